"""A device's history kept between checks: a check reads from the tables only what
arrived since the last one.

:func:`monitor.history.load_history` reads every prediction of a device and links
every outcome to it: at a million exams that is most of a daily check's time and
memory. Predictions and outcomes are only ever added (an operating threshold that
changes rewrites the device's derived results, and changes its registry entry), so
what was read once is kept, compact, in ``history_chunks``: each check appends the
predictions stored since the last chunk and the outcome events that arrived with
them (a new outcome of an old exam - a correction - as much as a new exam's), found
by row id. The chunks are a cache of the tables, checked on every read:

- they chain from the first row (each starts where the previous ended) and were
  read with the device's current registry entry (``fingerprint``);
- the device's predictions and the outcomes stored up to the last chunk are still
  as many as when it was written (nothing deleted, no row committed late below it).

Anything else, and the device's history is read again whole and kept anew. After
:data:`MAX_CHUNKS` chunks they are merged into one. Text columns are stored as codes
into their distinct values; the history holds them as pandas categoricals over those
codes (one byte a cell for a few distinct values, not an 8-byte pointer).
"""

from __future__ import annotations

import ctypes
import hashlib
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from alerts.cases import TextCodes
from monitor.history import DeviceHistory, assemble, read_cases, read_events, to_ns
from monitor.linking import IdWindow, of_device_by_id
from monitor.models import HistoryChunk, Outcome, Prediction
from monitor.registry import DeviceSpec

__all__ = [
    "FORMAT",
    "MAX_CHUNKS",
    "KeptRead",
    "fingerprint",
    "kept_history",
    "release_freed_memory",
]

FORMAT = 1
"""Version of the chunks' layout: chunks of another are read again."""

MAX_CHUNKS = 32
"""Chunks of a device before they are merged into one."""

_NUMBERS = {
    "prediction_id": np.int64,
    "exam_ns": np.int64,
    "ai_score": np.float64,
    "patient_age": np.float64,
}
_EVENTS = {"prediction_id": np.int64, "truth": np.int8, "rank": np.int64, "ns": np.int64}


@dataclass(frozen=True)
class KeptRead:
    """What one read of a kept history took from the tables (for benchmarks and logs)."""

    new_predictions: int
    new_events: int
    chunks: int
    rebuilt: bool


def _libc_trim() -> Callable[[int], int] | None:
    try:
        trim: Callable[[int], int] = ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc: nothing to do
        return None
    return trim


_TRIM = _libc_trim()


def release_freed_memory() -> None:
    """Give back to the system the memory freed after putting a history together.

    glibc keeps freed blocks in the process's heap for reuse: after the transient
    copies of a million cases, the process would otherwise stay ~90 MiB larger for the
    rest of the check, on top of its next peak. A no-op without glibc.
    """
    if _TRIM is not None:
        _TRIM(0)


def fingerprint(device: DeviceSpec) -> str:
    """What a device's kept rows depend on: its registry entry and the chunk layout."""
    text = json.dumps([FORMAT, device.model_dump(mode="json")], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _encode(cases: pd.DataFrame, events: pd.DataFrame) -> bytes:
    arrays: dict[str, np.ndarray] = {}
    texts: dict[str, list[str]] = {}
    for column in cases.columns:
        if column in _NUMBERS:
            values = pd.to_numeric(cases[column], errors="coerce")
            arrays[f"n.{column}"] = values.to_numpy(_NUMBERS[column])
        else:
            codes, uniques = pd.factorize(cases[column].astype(object), use_na_sentinel=True)
            # The smallest signed type that holds them (int8 for a few values).
            arrays[f"t.{column}"] = codes.astype(np.min_scalar_type(-len(uniques) - 1))
            texts[column] = [str(u) for u in uniques]
    for column, kind in _EVENTS.items():
        arrays[f"e.{column}"] = events[column].to_numpy(kind)
    arrays["texts"] = np.frombuffer(json.dumps(texts).encode(), dtype=np.uint8)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # type: ignore[arg-type]
    return buffer.getvalue()


Columns = dict[str, Any]
"""A part's columns: arrays, and text columns as :class:`TextCodes` (code -1 picks the
None its values end with)."""


def _texts(pieces: Sequence[TextCodes]) -> TextCodes:
    """One text column's pieces as one: codes into one list of values (None last)."""
    if len(pieces) == 1:
        return pieces[0]
    known = list(dict.fromkeys(v for piece in pieces for v in piece.values[:-1]))
    index = {value: i for i, value in enumerate(known)}
    codes = np.concatenate(
        [
            np.array([index[v] for v in piece.values[:-1]] + [-1], dtype=np.int32)[piece.codes]
            for piece in pieces
        ]
    )
    return TextCodes(codes, np.array([*known, None], dtype=object))


def _rows(part: Columns) -> int:
    """A part's rows: the length of any of its array columns."""
    return next(len(c) for c in part.values() if not isinstance(c, TextCodes))


def _decode(payload: bytes) -> tuple[Columns, Columns]:
    """A chunk's cases and events, column by column."""
    with np.load(io.BytesIO(payload), allow_pickle=False) as stored:
        texts = json.loads(stored["texts"].tobytes().decode())
        cases: Columns = {}
        events: Columns = {}
        for name in stored.files:
            kind, _, column = name.partition(".")
            if kind == "n":
                cases[column] = stored[name]
            elif kind == "t":
                # Code -1 (no value) picks the None appended last.
                values = np.array([*texts[column], None], dtype=object)
                cases[column] = TextCodes(stored[name], values)
            elif kind == "e":
                events[column] = stored[name]
    return cases, events


def _frame(
    parts: Sequence[Columns],
    order: list[str],
    keep: np.ndarray | None = None,
    codes: dict[str, TextCodes] | None = None,
) -> pd.DataFrame:
    """The parts' columns end to end (rows ``keep`` of them, in that order), one column
    at a time, each part's column let go once used. Text columns become pandas
    categoricals over the codes (one byte a case for a few distinct values, not an
    8-byte pointer: 60 MiB less at a million cases); a case with no value is missing
    (NaN). ``codes``: filled with each text column's codes (shared with the frame)."""
    columns: dict[str, Any] = {}
    for column in order:
        pieces = [part.pop(column) for part in parts]
        if isinstance(pieces[0], TextCodes):
            whole_text = _texts(pieces)
            del pieces
            column_codes = whole_text.codes if keep is None else whole_text.codes[keep]
            small = np.min_scalar_type(-len(whole_text.values))  # int8 for a few values
            column_codes = column_codes.astype(small, copy=False)
            # The values end with None (code -1): the categories are the others.
            categories = pd.Index(whole_text.values[:-1], dtype=object)
            columns[column] = pd.Categorical.from_codes(
                column_codes, categories=categories, validate=False
            )
            if codes is not None:
                codes[column] = TextCodes(column_codes, whole_text.values)
            del column_codes, whole_text
            continue
        whole = np.concatenate(pieces) if len(pieces) > 1 else pieces[0]
        del pieces
        columns[column] = whole if keep is None else whole[keep]
        del whole
    rows = keep.size if keep is not None else None
    return pd.DataFrame(columns, index=pd.RangeIndex(rows) if rows is not None else None)


def _chain_holds(session: Session, device: DeviceSpec, chunks: Sequence[Any]) -> bool:
    """The chunks chain from the first row, with this registry entry, and the tables
    still hold as many rows up to the last chunk as when it was written."""
    if not chunks:
        return True
    mark = fingerprint(device)
    predictions, outcomes = 0, 0
    for chunk in chunks:
        if chunk.fingerprint != mark or (chunk.predictions_after, chunk.outcomes_after) != (
            predictions,
            outcomes,
        ):
            return False
        predictions, outcomes = chunk.predictions_upto, chunk.outcomes_upto
    last = chunks[-1]
    stored_predictions = session.scalar(
        select(func.count())
        .select_from(Prediction)
        .where(Prediction.device_id == device.id, Prediction.id <= last.predictions_upto)
    )
    stored_outcomes = _outcomes_upto(session, last.outcomes_upto)
    return bool(
        stored_predictions == last.predictions_count and stored_outcomes == last.outcomes_count
    )


def _outcomes_upto(session: Session, upto: int) -> int:
    """Outcomes stored with an id up to ``upto``: counted once per transaction (every
    device of a check asks it of the same last chunk; a count reads the whole table)."""
    transaction = session.get_transaction()
    known = session.info.get("kept_history.outcome_counts")
    if known is None or known[0] is not transaction:
        known = (transaction, {})
        session.info["kept_history.outcome_counts"] = known
    counts: dict[int, int] = known[1]
    if upto not in counts:
        counts[upto] = int(
            session.scalar(select(func.count()).select_from(Outcome).where(Outcome.id <= upto)) or 0
        )
    return counts[upto]


def _store(
    session: Session,
    device: DeviceSpec,
    window: IdWindow,
    counts: tuple[int, int],
    payload: bytes,
) -> None:
    """Append one chunk; another check that stored the same one first wins."""
    chunk = HistoryChunk(
        device_id=device.id,
        fingerprint=fingerprint(device),
        predictions_after=window.predictions_after,
        predictions_upto=window.predictions_upto,
        outcomes_after=window.outcomes_after,
        outcomes_upto=window.outcomes_upto,
        predictions_count=counts[0],
        outcomes_count=counts[1],
        payload=payload,
        stored_at=datetime.now(UTC),
    )
    try:
        with session.begin_nested():
            session.add(chunk)
            session.flush()
    except IntegrityError:
        return
    session.expunge(chunk)  # its payload is not kept in the session's memory


def kept_history(
    session: Session,
    device: DeviceSpec,
    until: datetime,
    age_bands: Sequence[float],
    *,
    keep: bool = True,
) -> tuple[DeviceHistory, KeptRead]:
    """``device``'s history as :func:`monitor.history.load_history` reads it, from
    its kept chunks and the rows stored since; ``keep``: append those rows as a chunk
    (in the caller's transaction) so the next check starts from there."""
    columns = (
        HistoryChunk.id,
        HistoryChunk.fingerprint,
        HistoryChunk.predictions_after,
        HistoryChunk.predictions_upto,
        HistoryChunk.outcomes_after,
        HistoryChunk.outcomes_upto,
        HistoryChunk.predictions_count,
        HistoryChunk.outcomes_count,
    )
    mine = HistoryChunk.device_id == device.id
    chunks = list(session.execute(select(*columns).where(mine).order_by(HistoryChunk.id)).all())
    rebuilt = False
    if not _chain_holds(session, device, chunks):
        rebuilt = True
        if keep:
            session.execute(delete(HistoryChunk).where(mine))
        chunks = []
    last = chunks[-1] if chunks else None
    predictions_after = last.predictions_upto if last else 0
    outcomes_after = last.outcomes_upto if last else 0
    # The tables' last ids (the device's own last prediction would read its index whole).
    last_prediction = session.scalar(select(func.max(Prediction.id))) or 0
    last_outcome = session.scalar(select(func.max(Outcome.id))) or 0
    window = IdWindow(
        predictions_after,
        max(last_prediction, predictions_after),
        outcomes_after,
        max(last_outcome, outcomes_after),
    )
    new_cases = read_cases(
        session,
        of_device_by_id(device.id),
        Prediction.id > window.predictions_after,
        Prediction.id <= window.predictions_upto,
    )
    new_events = read_events(session, device.id, None, window)
    stored = select(HistoryChunk.payload).where(mine).order_by(HistoryChunk.id)
    parts = [_decode(payload) for payload in session.scalars(stored)] if chunks else []
    grown = len(new_cases) > 0 or len(new_events) > 0
    payload = _encode(new_cases, new_events)
    if grown or not parts:
        parts.append(_decode(payload))  # the same types and shared texts as the chunks
    case_parts, event_parts = [c for c, _ in parts], [e for _, e in parts]
    del parts
    if keep and grown:
        new_outcomes = session.scalar(
            select(func.count())
            .select_from(Outcome)
            .where(Outcome.id > window.outcomes_after, Outcome.id <= window.outcomes_upto)
        )
        counts = (
            (last.predictions_count if last else 0) + len(new_cases),
            (last.outcomes_count if last else 0) + int(new_outcomes or 0),
        )
        if len(chunks) + 1 > MAX_CHUNKS:
            session.execute(delete(HistoryChunk).where(mine))
            whole = IdWindow(0, window.predictions_upto, 0, window.outcomes_upto)
            merged_cases = _frame(case_parts, list(new_cases.columns))
            merged_events = _frame(event_parts, list(_EVENTS))
            merged = _encode(merged_cases, merged_events)
            del merged_cases, merged_events
            _store(session, device, whole, counts, merged)
            merged_cases_part, merged_events_part = _decode(merged)  # coded, as chunks are
            case_parts, event_parts = [merged_cases_part], [merged_events_part]
            del merged, merged_cases_part, merged_events_part
        else:
            _store(session, device, window, counts, payload)
    del payload
    # In exam order, up to ``until``: the same rows as the tables read then.
    exam = np.concatenate([c["exam_ns"] for c in case_parts])
    ids = np.concatenate([c["prediction_id"] for c in case_parts])
    rows = np.lexsort((ids, exam))
    rows = rows[exam[rows] <= to_ns(until)]
    del exam, ids
    codes: dict[str, TextCodes] = {}
    cases = _frame(case_parts, list(new_cases.columns), rows, codes)
    events = _frame(event_parts, list(_EVENTS))
    history = assemble(device, cases, events, to_ns(until), age_bands, codes)
    del cases, events, case_parts, event_parts
    release_freed_memory()
    read = KeptRead(len(new_cases), len(new_events), len(chunks) + int(keep and grown), rebuilt)
    return history, read
