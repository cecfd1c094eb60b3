"""A kept history equals a whole read of the tables, and reads only what arrived since."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import delete, func, select

import monitor.kept_history as kept
from alerts.cases import scope_parts
from alerts.drift import encode_cases
from monitor.history import DeviceHistory, load_history
from monitor.ingest import ingest_file
from monitor.kept_history import kept_history
from monitor.models import HistoryChunk, Prediction
from monitor.registry import get_device, import_registry, parse_registry
from monitor.storage import Database
from tests.conftest import registry_document
from tests.monitor.synthetic import synthetic_cases

UNTIL = datetime(2026, 1, 1, tzinfo=UTC)
AS_OF = (datetime(2025, 2, 1, tzinfo=UTC), UNTIL)
AGE_BANDS = (18, 65)


TEXT_COLUMNS = ("device_version", "ai_result", "site", "scanner_manufacturer", "patient_sex")
DIMENSIONS = ("site", "modality", "body_part", "scanner_manufacturer", "patient_sex", "age_band")


def _as_text(cases: pd.DataFrame) -> pd.DataFrame:
    """``cases`` with categorical text columns (a kept history's) as strings and None."""
    out = cases.copy()
    for column in out.columns:
        if isinstance(out[column].dtype, pd.CategoricalDtype):
            values = out[column].astype(object)
            out[column] = values.where(values.notna(), None)
    return out


def _same(a: DeviceHistory, b: DeviceHistory) -> None:
    for history in (a, b):  # a kept history's text columns are categoricals
        if history.text_codes is not None:
            assert all(
                isinstance(history.cases[c].dtype, pd.CategoricalDtype) for c in TEXT_COLUMNS
            )
    pd.testing.assert_frame_equal(_as_text(a.cases), _as_text(b.cases))
    for field in ("event_case", "event_truth", "event_ns", "event_rank"):
        assert np.array_equal(getattr(a, field), getattr(b, field)), field
    for history in (a, b):
        if history.text_codes is not None:
            _codes_hold(history)


def _codes_hold(history: DeviceHistory) -> None:
    """A kept history's text codes say what its columns say, and the slices and drift
    encoding made from them are those made by hashing the strings."""
    codes = history.text_codes
    assert codes is not None and set(TEXT_COLUMNS) <= set(codes)
    for column, coded in codes.items():
        values = np.array([*coded.values, None], dtype=object)  # code -1: the None last
        assert list(values[coded.codes]) == list(_as_text(history.cases)[column]), column
    cases = history.cases
    with_codes, without = scope_parts(cases, DIMENSIONS, codes), scope_parts(cases, DIMENSIONS)
    for mine, theirs in (
        (with_codes.versions, without.versions),
        (with_codes.subgroups, without.subgroups),
    ):
        assert [k for k, _ in mine] == [k for k, _ in theirs]
        assert all(np.array_equal(m, t) for (_, m), (_, t) in zip(mine, theirs, strict=True))
    encoded, hashed = encode_cases(cases, codes), encode_cases(cases)
    assert encoded.labels == hashed.labels
    assert set(encoded.codes) == set(hashed.codes)
    assert all(np.array_equal(encoded.codes[c], hashed.codes[c]) for c in hashed.codes)


def _pieces(tmp_path: Path) -> list[tuple[Path, str]]:
    """The synthetic exams arriving in four steps: the first predictions with their
    reports, more predictions, the pathology (corrections of old exams), and last
    predictions whose reports were stored before them."""
    _, _, p_path, o_path = synthetic_cases(tmp_path)
    predictions, outcomes = pd.read_csv(p_path, dtype=str), pd.read_csv(o_path, dtype=str)
    # Some indeterminate results: each device's policy decides their call.
    predictions.loc[predictions.index % 17 == 0, "ai_result"] = "indeterminate"
    first = predictions["accession_number"].isin(predictions["accession_number"].iloc[:600])
    last = predictions["accession_number"].isin(predictions["accession_number"].iloc[1200:])
    reports = outcomes["source"] == "report"

    def written(name: str, frame: pd.DataFrame) -> Path:
        path = tmp_path / name
        frame.to_csv(path, index=False)
        return path

    accession = outcomes["accession_number"]
    first_ids = predictions["accession_number"][first]
    return [
        (written("p1.csv", predictions[first]), "predictions"),
        (written("o1.csv", outcomes[reports & accession.isin(first_ids)]), "outcomes"),
        (written("p2.csv", predictions[~first & ~last]), "predictions"),
        (written("o2.csv", outcomes[reports & ~accession.isin(first_ids)]), "outcomes"),
        (written("o3.csv", outcomes[~reports]), "outcomes"),
        (written("p3.csv", predictions[last]), "predictions"),
    ]


def test_a_kept_history_equals_a_whole_read_as_rows_arrive(
    registered: Database, tmp_path: Path
) -> None:
    pieces = _pieces(tmp_path)
    for step, (path, kind) in enumerate(pieces, start=1):
        ingest_file(registered, path, kind)
        with registered.session.begin() as session:
            for device_id in ("frac", "nod"):
                spec = get_device(session, device_id)
                new_rows = session.scalar(
                    select(func.count())
                    .select_from(Prediction)
                    .where(Prediction.device_id == device_id)
                )
                history, read = kept_history(session, spec, UNTIL, AGE_BANDS)
                _same(history, load_history(session, spec, UNTIL, AGE_BANDS))
                for as_of in AS_OF:
                    _same(
                        kept_history(session, spec, as_of, AGE_BANDS, keep=False)[0],
                        load_history(session, spec, as_of, AGE_BANDS),
                    )
                assert not read.rebuilt
                if kind == "predictions":
                    # Only the predictions stored since the last read are read.
                    assert 0 < read.new_predictions < new_rows or step == 1
                else:
                    assert read.new_predictions == 0 and read.new_events > 0
    with registered.session() as session:
        chunks = session.scalar(select(func.count()).select_from(HistoryChunk))
        assert chunks == 2 * len(pieces)


def test_nothing_new_reads_no_row_and_stores_no_chunk(registered: Database, tmp_path: Path) -> None:
    ingest_file(registered, _pieces(tmp_path)[0][0], "predictions")
    with registered.session.begin() as session:
        spec = get_device(session, "frac")
        kept_history(session, spec, UNTIL, AGE_BANDS)
    with registered.session.begin() as session:
        history, read = kept_history(session, spec, UNTIL, AGE_BANDS)
        assert (read.new_predictions, read.new_events, read.chunks) == (0, 0, 1)
        assert len(history.cases) > 0


def test_a_read_without_keep_stores_nothing(registered: Database, tmp_path: Path) -> None:
    ingest_file(registered, _pieces(tmp_path)[0][0], "predictions")
    with registered.session.begin() as session:
        history, _ = kept_history(
            session, get_device(session, "frac"), UNTIL, AGE_BANDS, keep=False
        )
        assert len(history.cases) > 0
        assert session.scalar(select(func.count()).select_from(HistoryChunk)) == 0


def _kept_then(registered: Database, tmp_path: Path) -> None:
    for path, kind in _pieces(tmp_path)[:2]:
        ingest_file(registered, path, kind)
    with registered.session.begin() as session:
        kept_history(session, get_device(session, "frac"), UNTIL, AGE_BANDS)


def test_a_changed_registry_entry_reads_the_history_again(
    registered: Database, tmp_path: Path
) -> None:
    _kept_then(registered, tmp_path)
    document = registry_document()
    document["devices"][0]["operating_threshold"] = 0.7  # results derived again
    with registered.session.begin() as session:
        import_registry(session, parse_registry(document), actor="test")
    with registered.session.begin() as session:
        spec = get_device(session, "frac")
        history, read = kept_history(session, spec, UNTIL, AGE_BANDS)
        assert read.rebuilt
        _same(history, load_history(session, spec, UNTIL, AGE_BANDS))


def test_a_deleted_prediction_reads_the_history_again(registered: Database, tmp_path: Path) -> None:
    _kept_then(registered, tmp_path)
    with registered.session.begin() as session:
        gone = session.scalar(select(func.min(Prediction.id)).where(Prediction.device_id == "frac"))
        session.execute(delete(Prediction).where(Prediction.id == gone))
    with registered.session.begin() as session:
        spec = get_device(session, "frac")
        history, read = kept_history(session, spec, UNTIL, AGE_BANDS)
        assert read.rebuilt
        assert gone not in set(history.cases["prediction_id"])
        _same(history, load_history(session, spec, UNTIL, AGE_BANDS))


def test_chunks_are_merged_past_the_limit(
    registered: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(kept, "MAX_CHUNKS", 2)
    for path, kind in _pieces(tmp_path):
        ingest_file(registered, path, kind)
        with registered.session.begin() as session:
            kept_history(session, get_device(session, "nod"), UNTIL, AGE_BANDS)
    with registered.session.begin() as session:
        assert session.scalar(select(func.count()).select_from(HistoryChunk)) <= 2
        spec = get_device(session, "nod")
        history, read = kept_history(session, spec, UNTIL, AGE_BANDS)
        assert not read.rebuilt and read.new_predictions == 0
        assert history.text_codes is not None  # merged chunks are coded as others are
        _same(history, load_history(session, spec, UNTIL, AGE_BANDS))
