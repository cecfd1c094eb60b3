"""Per-cell summaries: what ingestion maintains equals what pandas counts from the cases."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

from metrics import BINARY_METRIC_NAMES
from monitor.cells import (
    COUNT_COLUMNS,
    CellSettings,
    Grain,
    cells_from_cases,
    ensure_summaries,
    read_cells,
    rebuild_summaries,
    refresh_cases,
)
from monitor.evaluation import EvaluationOptions, Window, evaluate_breakdowns, records
from monitor.ingest import ingest_file
from monitor.linking import linked_cases
from monitor.models import CELL_KEY_COLUMNS, CaseCount, Outcome, Prediction, ScoreBin, SummaryState
from monitor.storage import Database, open_database
from tests.monitor.synthetic import PARIS, synthetic_cases

KEYS = [*CELL_KEY_COLUMNS, "exam_day"]


def _normalised(counts: pd.DataFrame) -> pd.DataFrame:
    """Non-zero cells only, sorted, with plain integer counts (comparable across paths)."""
    frame = counts.copy()
    frame = frame.loc[(frame[list(COUNT_COLUMNS)] != 0).any(axis=1)]
    frame["exam_day"] = pd.to_datetime(frame["exam_day"])
    for column in COUNT_COLUMNS:
        frame[column] = frame[column].astype("int64")
    return frame[[*KEYS, *COUNT_COLUMNS]].sort_values(KEYS).reset_index(drop=True)


def _reference(db: Database, as_of: datetime, settings_: CellSettings) -> pd.DataFrame:
    with db.session() as session:
        cases = linked_cases(session, as_of)
    return _normalised(cells_from_cases(cases, settings_))


def _from_cells(db: Database, as_of: datetime) -> pd.DataFrame:
    with db.session() as session:
        return _normalised(read_cells(session, as_of).counts)


def _ingest(db: Database, kind: str, path: Path) -> None:
    ingest_file(db, path, kind, chunk_size=400)  # type: ignore[arg-type]


@pytest.fixture
def synthetic(registered: Database, tmp_path: Path) -> Database:
    """The synthetic cases ingested as the ingester does: predictions, then outcomes
    in two files (reports first, then pathology that may contradict them)."""
    _, outcomes, p_path, o_path = synthetic_cases(tmp_path)
    all_outcomes = pd.read_csv(o_path)
    reports, pathology = tmp_path / "reports.csv", tmp_path / "pathology.csv"
    all_outcomes[all_outcomes["source"] == "report"].to_csv(reports, index=False)
    all_outcomes[all_outcomes["source"] == "pathology"].to_csv(pathology, index=False)
    assert len(outcomes) == len(all_outcomes)
    _ingest(registered, "predictions", p_path)
    _ingest(registered, "outcomes", reports)
    _ingest(registered, "outcomes", pathology)
    return registered


@pytest.mark.parametrize(
    "as_of",
    [
        datetime(2025, 1, 20, 23, 0, tzinfo=UTC),  # end of the 21st in Paris
        datetime(2025, 2, 10, 9, 30, tzinfo=UTC),  # mid-day: exams after 10:30 are out
        datetime(2025, 3, 15, 12, 0, tzinfo=UTC),  # reports known, pathology arriving
        datetime(2026, 1, 1, tzinfo=UTC),  # everything known
    ],
)
def test_cells_as_of_any_date_equal_counting_the_linked_cases(
    synthetic: Database, as_of: datetime
) -> None:
    assert _from_cells(synthetic, as_of).equals(_reference(synthetic, as_of, CellSettings()))


def test_incremental_cells_equal_a_full_rebuild(synthetic: Database) -> None:
    with synthetic.session() as session:
        incremental = _normalised(
            pd.DataFrame(
                session.execute(
                    select(*(getattr(CaseCount, c) for c in [*KEYS, *COUNT_COLUMNS]))
                ).all(),
                columns=[*KEYS, *COUNT_COLUMNS],
            )
        )
        bins_before = sorted(
            session.execute(select(ScoreBin.device_id, ScoreBin.truth, ScoreBin.bin, ScoreBin.n))
        )
    with synthetic.session.begin() as session:
        rebuilt_cases = rebuild_summaries(session, CellSettings(), batch_size=317)
    with synthetic.session() as session:
        rebuilt = _normalised(
            pd.DataFrame(
                session.execute(
                    select(*(getattr(CaseCount, c) for c in [*KEYS, *COUNT_COLUMNS]))
                ).all(),
                columns=[*KEYS, *COUNT_COLUMNS],
            )
        )
        bins_after = sorted(
            session.execute(select(ScoreBin.device_id, ScoreBin.truth, ScoreBin.bin, ScoreBin.n))
        )
    assert rebuilt_cases == 1500
    assert incremental.equals(rebuilt)
    assert [b for b in bins_before if b[3]] == [b for b in bins_after if b[3]]


def test_score_bins_hold_every_scored_case_by_truth(synthetic: Database) -> None:
    with synthetic.session() as session:
        cases = linked_cases(session, None)
        rows = session.execute(select(ScoreBin.truth, ScoreBin.n, ScoreBin.score_sum)).all()
    stored = pd.DataFrame(rows, columns=["truth", "n", "score_sum"]).groupby("truth").sum()
    truth = cases["outcome"].fillna("unknown")
    expected = cases.assign(truth=truth).groupby("truth")["ai_score"].agg(["count", "sum"])
    assert stored["n"].to_dict() == expected["count"].to_dict()
    for name in expected.index:
        assert stored.loc[name, "score_sum"] == pytest.approx(expected.loc[name, "sum"])


def test_changed_age_bands_rebuild_the_cells(synthetic: Database) -> None:
    wide = CellSettings("Europe/Paris", (40.0,))
    with synthetic.session.begin() as session:
        assert ensure_summaries(session, CellSettings()) is False
        assert ensure_summaries(session, wide) is True
        assert session.get(SummaryState, 1).age_bands == [40.0]  # type: ignore[union-attr]
    as_of = datetime(2026, 1, 1, tzinfo=UTC)
    cells = _from_cells(synthetic, as_of)
    assert set(cells["age_band"]) == {"<40", ">=40", ""}
    assert cells.equals(_reference(synthetic, as_of, wide))


def test_a_database_without_summaries_builds_them_on_first_ingestion(
    registered: Database, tmp_path: Path
) -> None:
    _, _, p_path, o_path = synthetic_cases(tmp_path, n=200)
    with registered.session.begin() as session:
        session.execute(delete(SummaryState))
    _ingest(registered, "predictions", p_path)
    _ingest(registered, "outcomes", o_path)
    as_of = datetime(2026, 1, 1, tzinfo=UTC)
    assert _from_cells(registered, as_of).equals(_reference(registered, as_of, CellSettings()))


# --- property: counts from the database equal counts from pandas ----------------------

_DAYS = pd.date_range("2025-03-28", periods=5, freq="D", tz=PARIS)  # spans the DST change


@st.composite
def _case_sets(draw: st.DrawFn) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    n = draw(st.integers(min_value=0, max_value=25))
    predictions = []
    outcomes = []
    for i in range(n):
        exam = _DAYS[draw(st.integers(0, 4))] + pd.Timedelta(hours=draw(st.integers(0, 23)))
        predictions.append(
            {
                "device_id": draw(st.sampled_from(["frac", "nod"])),
                "device_version": draw(st.sampled_from(["1", "2"])),
                "target": "fracture",
                "accession_number": f"A{i}",
                "exam_datetime": exam.to_pydatetime(),
                "ai_result": draw(st.sampled_from(["positive", "negative", "indeterminate"])),
                "ai_score": draw(st.none() | st.floats(0, 1)),
                "site": draw(st.sampled_from([None, "A", "B"])),
                "patient_age": draw(st.none() | st.integers(0, 99)),
                "patient_sex": draw(st.sampled_from([None, "F", "M"])),
            }
        )
        for j in range(draw(st.integers(0, 2))):
            delay = pd.Timedelta(hours=draw(st.integers(-2, 24 * 6)))
            outcomes.append(
                {
                    "accession_number": f"A{i}",
                    "outcome": draw(st.sampled_from(["positive", "negative", "indeterminate"])),
                    "source": draw(st.sampled_from(["report", "pathology"])),
                    "outcome_datetime": (exam + delay).to_pydatetime(),
                    "natural_key": f"o{i}-{j}",
                }
            )
    return predictions, outcomes


def _store(db: Database, predictions: list[dict[str, object]], outcomes: list[dict[str, object]]):  # type: ignore[no-untyped-def]
    with db.session.begin() as session:
        for table in (ScoreBin, CaseCount, Outcome, Prediction):
            session.execute(delete(table))
        rows = [Prediction(natural_key=str(p["accession_number"]), **p) for p in predictions]
        session.add_all(rows)
        session.flush()
        refresh_cases(session, [r.id for r in rows])
        added = [Outcome(**o) for o in outcomes]
        session.add_all(added)
        session.flush()
        refresh_cases(session, [r.id for r in rows])


@pytest.fixture(scope="module")
def property_db(tmp_path_factory: pytest.TempPathFactory) -> Database:
    from monitor.registry import import_registry, parse_registry
    from tests.conftest import registry_document

    db = open_database(f"sqlite:///{tmp_path_factory.mktemp('prop')}/p.db")
    with db.session.begin() as session:
        import_registry(session, parse_registry(registry_document()), actor="test")
        ensure_summaries(session, CellSettings())
    return db


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=_case_sets(), hour=st.integers(0, 24 * 12))
def test_property_database_counts_equal_pandas_counts(
    property_db: Database, data: tuple[list[dict[str, object]], list[dict[str, object]]], hour: int
) -> None:
    predictions, outcomes = data
    _store(property_db, predictions, outcomes)
    as_of = (_DAYS[0] + pd.Timedelta(hours=hour)).to_pydatetime()
    assert _from_cells(property_db, as_of).equals(_reference(property_db, as_of, CellSettings()))


@pytest.mark.parametrize(
    ("grain", "window"),
    [
        ("month", "month"),
        ("month", "quarter"),
        ("month", "all"),
        ("day", "day"),
        ("day", "week"),
        ("day", "rolling"),
        ("day", "all"),
    ],
)
@pytest.mark.parametrize(
    "as_of",
    [datetime(2025, 2, 10, 9, 30, tzinfo=UTC), datetime(2025, 3, 31, 22, 0, tzinfo=UTC)],
)
def test_evaluating_stored_cells_equals_evaluating_the_cases_in_memory(
    synthetic: Database, grain: Grain, window: Window, as_of: datetime
) -> None:
    options = EvaluationOptions(window=window, rolling_days=45, metrics=BINARY_METRIC_NAMES)
    with synthetic.session() as session:
        data = read_cells(session, as_of, grain=grain)
        cases = linked_cases(session, as_of)
    breakdowns = [(), ("site", "age_band"), ("scanner_manufacturer",)]
    stored = evaluate_breakdowns(
        data.counts,
        breakdowns,
        as_of=as_of,
        tz=PARIS,
        options=options,
        first_day=data.first_day,
    )
    in_memory = evaluate_breakdowns(
        cells_from_cases(cases, CellSettings()), breakdowns, as_of=as_of, tz=PARIS, options=options
    )
    assert len(stored) > 10
    assert records(stored) == records(in_memory)


def test_a_changed_indeterminate_policy_recounts_the_device(
    registered: Database, tmp_path: Path
) -> None:
    from monitor.registry import import_registry, parse_registry
    from tests.conftest import registry_document

    path = tmp_path / "p.csv"
    rows = [
        "device_id,device_version,accession_number,exam_datetime,ai_result",
        "frac,1.0,A1,2025-03-03T10:00:00+01:00,indeterminate",
        "frac,1.0,A2,2025-03-03T11:00:00+01:00,positive",
    ]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    _ingest(registered, "predictions", path)
    as_of = datetime(2025, 4, 1, tzinfo=UTC)
    before = _from_cells(registered, as_of)
    assert before["pending_positive"].sum() == 2  # policy "positive": DOUBT counts as positive
    document = registry_document()
    document["devices"][0]["indeterminate_policy"] = "exclude"
    with registered.session.begin() as session:
        import_registry(session, parse_registry(document), actor="test")
    cells = _from_cells(registered, as_of)
    assert (cells["pending_positive"].sum(), cells["excluded"].sum()) == (1, 1)
    assert cells.equals(_reference(registered, as_of, CellSettings()))
