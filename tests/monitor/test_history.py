"""A history read once answers, at any date, what linking in the database says then."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from monitor.history import DeviceHistory, lexsort_by_case, load_history, to_ns
from monitor.ingest import ingest_file
from monitor.linking import linked_cases
from monitor.registry import get_device
from monitor.storage import Database
from tests.monitor.synthetic import synthetic_cases

_TRUTH = {"positive": 1, "negative": 0}


@pytest.mark.parametrize(
    "as_of",
    [
        datetime(2025, 1, 10, tzinfo=UTC),
        datetime(2025, 2, 15, 12, 30, tzinfo=UTC),
        datetime(2025, 6, 30, tzinfo=UTC),
    ],
)
def test_as_of_equals_linking_in_the_database(
    registered: Database, tmp_path: Path, as_of: datetime
) -> None:
    _, _, p_path, o_path = synthetic_cases(tmp_path)
    ingest_file(registered, p_path, "predictions")
    ingest_file(registered, o_path, "outcomes")
    with registered.session() as session:
        for device_id in ("frac", "nod"):
            spec = get_device(session, device_id)
            history = load_history(session, spec, datetime(2026, 1, 1, tzinfo=UTC), (18, 65))
            view = history.as_of(to_ns(as_of))
            linked = linked_cases(session, as_of, device_id=device_id).set_index("prediction_id")
            ids = view.cases["prediction_id"].to_numpy()
            assert sorted(ids) == sorted(linked.index)
            expected_truth = linked.loc[ids, "outcome"].map(_TRUTH).fillna(-1).to_numpy()
            assert np.array_equal(view.truth, expected_truth)
            statuses = linked.loc[ids, "status"].to_numpy()
            counted = np.isin(statuses, ["tp", "fp", "tn", "fn"])
            assert np.array_equal(view.verified, counted)
            calls = view.cases["ai_call"].to_numpy()
            assert np.array_equal(calls[counted] == 1, np.isin(statuses[counted], ["tp", "fp"]))
            # a case is verified no later than its deciding outcome, never after as_of
            decided = linked.loc[ids, "outcome_datetime"].dt.tz_convert("UTC")
            decided = decided.dt.tz_localize(None).to_numpy(dtype="datetime64[ns]")
            verified_at = view.verified_ns[view.truth >= 0]
            assert (verified_at <= to_ns(as_of)).all()
            deciding = decided[view.truth >= 0].astype(np.int64)
            assert (verified_at <= deciding).all()


def _changes_by_pandas(history: DeviceHistory) -> tuple[np.ndarray, ...]:
    """The truth changes as a pandas reading of their definition: in arrival order
    (the strongest last at one instant), keep an event while no stronger source has
    arrived for its case, one per instant, and the ones that change the truth."""
    events = pd.DataFrame(
        {
            "case": history.event_case,
            "ns": history.event_ns,
            "truth": history.event_truth,
            "rank": history.event_rank,
        }
    ).sort_values(["case", "ns", "rank"], ascending=[True, True, False], kind="stable")
    best = events[events["rank"].to_numpy() == events.groupby("case")["rank"].cummin()]
    best = best.drop_duplicates(["case", "ns"], keep="last")
    previous = best.groupby("case")["truth"].shift(1).fillna(-1).to_numpy(np.int8)
    truth = best["truth"].to_numpy(np.int8)
    changed = truth != previous
    order = np.argsort(best["ns"].to_numpy()[changed], kind="stable")
    return (
        best["case"].to_numpy(np.int64)[changed][order],
        best["ns"].to_numpy(np.int64)[changed][order],
        truth[changed][order],
        previous[changed][order],
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_truth_changes_follow_their_definition(seed: int) -> None:
    from monitor.registry import DeviceSpec

    rng = np.random.default_rng(seed)
    n = 5000  # events on 800 cases, few instants and sources: many ties
    case = np.sort(rng.integers(0, 800, n))
    history = DeviceHistory(
        device=DeviceSpec.model_validate(
            {
                "id": "d",
                "name": "d",
                "manufacturer": "m",
                "target": "t",
                "ai_based": True,
                "indeterminate_policy": "exclude",
                "status": "under_evaluation",
            }
        ),
        cases=pd.DataFrame({"exam_ns": np.arange(800)}),
        event_case=case,
        event_truth=rng.integers(0, 2, n).astype(np.int8),
        event_ns=rng.integers(0, 40, n).astype(np.int64),
        event_rank=rng.integers(0, 6, n).astype(np.int64),
    )
    changes = history.truth_changes
    expected = _changes_by_pandas(history)
    for got, want in zip(
        (changes.case, changes.ns, changes.truth, changes.previous), expected, strict=True
    ):
        assert np.array_equal(got, want)
        assert got.dtype == want.dtype


@pytest.mark.parametrize("seed", range(5))
def test_sorting_by_case_first_gives_numpys_lexsort_permutation(seed: int) -> None:
    # Cases with one event and with several, ties on every key (stability), in no order.
    rng = np.random.default_rng(seed)
    n = 3000
    case = rng.integers(0, 1500, n)
    ns = rng.integers(0, 40, n)
    rank = rng.integers(0, 4, n)
    expected = np.lexsort((-rank, ns, case))
    assert np.array_equal(lexsort_by_case(case, ns, -rank), expected)
    assert np.array_equal(lexsort_by_case(case, rank, -ns), np.lexsort((-ns, rank, case)))
    single = np.arange(10)[::-1].copy()  # one event each: sorted by case alone
    assert np.array_equal(lexsort_by_case(single, single), np.argsort(single))
    assert lexsort_by_case(case[:0], ns[:0]).size == 0
