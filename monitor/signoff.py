"""The monthly review's sign-off: each reviewer named in ``report.reviewers`` signs the
month in the console; with the last signature the month is locked.

A signature (:class:`monitor.models.MonthSignoff`) records the reviewer line signed,
the account that signed it, an optional comment and the SHA-256 of the month's
report files as they were (:func:`month_files`). Every reviewer must sign the same
files: when the report was rewritten after an earlier signature, the next one is
refused, naming who signed which version. When every line is signed, a
:class:`monitor.models.MonthLock` is written and the report of that month is no
longer rewritten (:func:`monitor.report_job.write_monthly_report` refuses it).
Signatures and the lock are audited (``report.signoff``, ``report.lock``) in the
name of the signer, ``"Full Name (username)"``.

A user signs as the reviewer line their account's full name occurs in, compared
word by word, ignoring case and accents: the account "Claire Martin" signs
``"Dr Claire Martin - radiologue référente / referent radiologist"``.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from datetime import date, datetime
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor import audit
from monitor.config import Config
from monitor.errors import MonitorError
from monitor.models import Device, MonthLock, MonthSignoff, User
from monitor.report_data import month_bounds
from monitor.report_job import report_dir
from monitor.report_render import FORMATS
from monitor.report_texts import LANGS
from monitor.storage import one_at_a_time
from monitor.timeutil import utc_now
from monitor.users import actor_name

__all__ = [
    "MAX_COMMENT_LENGTH",
    "month_files",
    "month_lock",
    "reviewer_for",
    "sign_month",
    "signoff_state",
]

MAX_COMMENT_LENGTH: Final = 2000
"""A signature's comment has at most this many characters."""

_LOCKED_BY_LENGTH: Final = 200  # MonthLock.locked_by is a String(200)
_WORD: Final = re.compile(r"\w+")


# --- the month's files ---------------------------------------------------------------------


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _stems(month: date, session: Session | None) -> list[str]:
    """File name stems the whole-establishment report of ``month`` may have: its
    name carries the device when the registry holds a single device."""
    stems = [f"qc-report-{month:%Y-%m}"]
    if session is not None:
        devices = list(session.scalars(select(Device.id)))
        if len(devices) == 1:
            stems.append(f"{stems[0]}-{devices[0]}")
    return stems


def _listed(manifest: Path) -> list[str]:
    """The file names the manifest lists (renderings and drift reports); MonitorError
    when it cannot be read."""
    try:
        document = json.loads(manifest.read_text(encoding="utf-8"))
        names = document["files"]
        if not isinstance(names, list):
            raise TypeError("files is not a list")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise MonitorError(
            f"the report manifest {manifest.name} cannot be read ({type(exc).__name__}): "
            "write the report again"
        ) from exc
    # Only plain names of the same folder: a manifest never points elsewhere.
    return [n for n in names if isinstance(n, str) and n and Path(n).name == n]


def month_files(config: Config, month: date, *, session: Session | None = None) -> dict[str, str]:
    """The whole-establishment report files of ``month`` present in
    :func:`monitor.report_job.report_dir`, by file name (sorted), with their SHA-256
    (hex): the renderings in every language and format, the manifest
    ``qc-report-YYYY-MM-manifest.json`` and the drift reports it lists.

    Per-device reports are not included. A registry with a single device names its
    whole-establishment report after that device (``qc-report-YYYY-MM-DEVICE-...``):
    pass ``session`` so that the registry is read and those files are found. Empty
    when the report has not been written; MonitorError for an unreadable manifest.
    """
    folder = report_dir(config)
    if not folder.is_dir():
        return {}
    month = month.replace(day=1)
    for stem in _stems(month, session):
        manifest = folder / f"{stem}-manifest.json"
        names = {f"{stem}-{lang}.{fmt}" for lang in LANGS for fmt in FORMATS}
        if manifest.is_file():
            names |= {manifest.name, *_listed(manifest)}
        present = sorted(n for n in names if (folder / n).is_file())
        if present:
            return {name: _sha256(folder / name) for name in present}
    return {}


def _version(files: dict[str, Any]) -> str:
    """A short fingerprint of a set of files (names and SHA-256), for messages."""
    canonical = json.dumps(files, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:8]


# --- who signs what ------------------------------------------------------------------------


def _words(value: str) -> list[str]:
    """``value`` as casefolded words without accents (NFKD, combining marks dropped)."""
    decomposed = unicodedata.normalize("NFKD", value)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _WORD.findall(plain.casefold())


def _names(line: str, full_name: str) -> bool:
    """Whether the words of ``full_name`` occur in ``line``, in order and together."""
    name, words = _words(full_name), _words(line)
    if not name:
        return False
    return any(words[i : i + len(name)] == name for i in range(len(words) - len(name) + 1))


def _lines_of(config: Config, user: User) -> list[str]:
    return [line for line in config.report.reviewers if _names(line, user.full_name)]


def reviewer_for(config: Config, user: User) -> str | None:
    """The line of ``report.reviewers`` naming ``user``: the account's full name occurs
    in it word for word, ignoring case and accents ("Claire Martin" and "CLAIRE
    MARTIN" both name "Dr Claire Martin - radiologue référente"). The first such line
    when several do, None when none does (or the account has no full name)."""
    lines = _lines_of(config, user)
    return lines[0] if lines else None


# --- state ---------------------------------------------------------------------------------


def month_lock(session: Session, month: date) -> MonthLock | None:
    """The lock of ``month`` (any day of it), None while it is not locked."""
    return session.get(MonthLock, month.replace(day=1))


def _signoffs(session: Session, month: date) -> list[MonthSignoff]:
    query = select(MonthSignoff).where(MonthSignoff.month == month).order_by(MonthSignoff.id)
    return list(session.scalars(query))


def _slot(reviewer: str, signoff: MonthSignoff | None) -> dict[str, Any]:
    return {
        "reviewer": reviewer,
        "signed": signoff is not None,
        "full_name": signoff.full_name if signoff else None,
        "username": signoff.username if signoff else None,
        "signed_at": signoff.signed_at if signoff else None,
        "comment": signoff.comment if signoff else None,
    }


def signoff_state(session: Session, config: Config, month: date) -> dict[str, Any]:
    """Where the review of ``month`` stands, for the console.

    ``month`` ("YYYY-MM"); ``slots``: one per line of ``report.reviewers`` in their
    order (then any line signed before it was removed from the configuration), each
    ``{reviewer, signed, full_name, username, signed_at, comment}`` (None while
    unsigned; ``signed_at`` aware UTC); ``locked``, ``locked_at`` (aware UTC or None),
    ``locked_by`` (the signers' names or None); ``files``: name -> SHA-256 of the
    locked files, or of the report files present now while not locked.
    """
    month = month.replace(day=1)
    signed = {s.reviewer: s for s in _signoffs(session, month)}
    lines = list(config.report.reviewers)
    slots = [_slot(line, signed.get(line)) for line in lines]
    slots += [_slot(line, s) for line, s in signed.items() if line not in lines]
    lock = month_lock(session, month)
    return {
        "month": f"{month:%Y-%m}",
        "slots": slots,
        "locked": lock is not None,
        "locked_at": lock.locked_at if lock else None,
        "locked_by": lock.locked_by if lock else None,
        "files": dict(lock.files) if lock else month_files(config, month, session=session),
    }


# --- signing -------------------------------------------------------------------------------


def _serialize(session: Session, month: date) -> None:
    """One signature of a month at a time, so that the last two signers cannot both
    miss the lock."""
    one_at_a_time(session, f"signoff:{month:%Y-%m}")


def _locked_by(names: list[str]) -> str:
    joined = ", ".join(names)
    if len(joined) <= _LOCKED_BY_LENGTH:
        return joined
    return joined[: _LOCKED_BY_LENGTH - 1] + "…"


def _changes(old: dict[str, Any], new: dict[str, str]) -> str:
    parts = []
    changed = sorted(n for n in old.keys() & new.keys() if old[n] != new[n])
    if changed:
        parts.append("changed " + ", ".join(changed))
    if added := sorted(new.keys() - old.keys()):
        parts.append("added " + ", ".join(added))
    if missing := sorted(old.keys() - new.keys()):
        parts.append("missing " + ", ".join(missing))
    return "; ".join(parts)


def _check_same_files(
    earlier: list[MonthSignoff], files: dict[str, str], month: date, tz: ZoneInfo
) -> None:
    """MonitorError when an earlier signer of the month signed other files."""
    differing = [s for s in earlier if dict(s.files) != files]
    if not differing:
        return
    who = "; ".join(
        f"{s.full_name} ({s.username}) signed version {_version(s.files)} on "
        f"{s.signed_at.astimezone(tz):%Y-%m-%d %H:%M}"
        for s in earlier
    )
    raise MonitorError(
        f"the report of {month:%Y-%m} was rewritten after it was signed: {who}; the files "
        f"are now version {_version(files)} ({_changes(differing[0].files, files)}). Every "
        "reviewer signs the same files: put back the files they signed (their SHA-256 are "
        "in the audit log, action report.signoff) before signing"
    )


def _check_ended(month: date, tz: ZoneInfo, timezone: str, now: datetime) -> None:
    _, end, _ = month_bounds(month, tz)
    if end > now:
        raise MonitorError(
            f"{month:%Y-%m} is not over yet ({timezone}): its review is signed once the month "
            f"has ended and its report is written, from {end:%Y-%m-%d}"
        )


def _check_lock(session: Session, month: date, tz: ZoneInfo) -> None:
    lock = month_lock(session, month)
    if lock is not None:
        raise MonitorError(
            f"the review of {month:%Y-%m} was signed and locked on "
            f"{lock.locked_at.astimezone(tz):%Y-%m-%d} by {lock.locked_by}: "
            "it takes no more signatures"
        )


def _comment(comment: str | None) -> str | None:
    text_ = (comment or "").strip()
    if len(text_) > MAX_COMMENT_LENGTH:
        raise MonitorError(
            f"a sign-off comment has at most {MAX_COMMENT_LENGTH} characters "
            f"({len(text_)} given): shorten it"
        )
    return text_ or None


def sign_month(
    session: Session,
    config: Config,
    month: date,
    *,
    user: User,
    comment: str | None,
    now: datetime | None = None,
) -> MonthSignoff:
    """Sign the review of ``month`` (any day of it) as the reviewer line naming
    ``user`` (:func:`reviewer_for`; the first of its lines not signed yet when it
    names them in several), in the caller's transaction.

    Records the signature with the SHA-256 of :func:`month_files` and audits it
    (``report.signoff``, entity ``report``/``YYYY-MM``, details: reviewer, files,
    comment) as ``actor_name(user)``. When every line of ``report.reviewers`` has
    then signed, writes the :class:`MonthLock` (``locked_by``: the signers' full
    names, in the order of the lines) and audits ``report.lock``.

    MonitorError, saying what to do, when ``report.reviewers`` is empty, the month
    has not ended in ``time.timezone`` at ``now`` (aware; default: now), it is
    locked, its report has not been written, ``user`` is not named by any line, their
    line has signed already, the comment is longer than :data:`MAX_COMMENT_LENGTH`,
    or the files differ from those an earlier signer of the month signed.
    """
    reviewers = list(config.report.reviewers)
    if not reviewers:
        raise MonitorError(
            "nobody can sign the monthly review: name the reviewers in [report] reviewers "
            'first, one line each, e.g. "Dr Claire Martin - radiologue référente / referent '
            "radiologist\" (the account's full name must appear in its line)"
        )
    month = month.replace(day=1)
    moment = now or utc_now()
    tz = ZoneInfo(config.time.timezone)
    _check_ended(month, tz, config.time.timezone, moment)
    text_ = _comment(comment)
    _serialize(session, month)
    _check_lock(session, month, tz)
    files = month_files(config, month, session=session)
    if not any(name.endswith("-manifest.json") for name in files):
        raise MonitorError(
            f"the report of {month:%Y-%m} is not in {report_dir(config)}: write the report "
            f"first: dmn-monitor report monthly --month {month:%Y-%m} (or from the console's "
            "report page), then sign it"
        )
    lines = _lines_of(config, user)
    if not lines:
        raise MonitorError(
            f"{actor_name(user)} is not one of the reviewers named in [report] reviewers "
            f"({'; '.join(reviewers)}): only they sign the review; the account's full name "
            "must appear in its reviewer line"
        )
    earlier = _signoffs(session, month)
    signed = {s.reviewer: s for s in earlier}
    open_lines = [line for line in lines if line not in signed]
    if not open_lines:
        first = signed[lines[0]]
        raise MonitorError(
            f"{lines[0]!r} signed the review of {month:%Y-%m} already "
            f"({first.full_name} ({first.username}), "
            f"{first.signed_at.astimezone(tz):%Y-%m-%d %H:%M}): a reviewer signs a month once"
        )
    _check_same_files(earlier, files, month, tz)
    reviewer = open_lines[0]
    signoff = MonthSignoff(
        month=month,
        reviewer=reviewer,
        username=user.username,
        full_name=user.full_name,
        comment=text_,
        files=files,
        signed_at=moment,
    )
    session.add(signoff)
    session.flush()
    actor = actor_name(user)
    month_id = f"{month:%Y-%m}"
    audit.record(
        session,
        actor=actor,
        action="report.signoff",
        entity="report",
        entity_id=month_id,
        details={"reviewer": reviewer, "files": files, "comment": text_},
        at=moment,
    )
    signed[reviewer] = signoff
    if all(line in signed for line in reviewers):
        names = [signed[line].full_name for line in reviewers]
        lock = MonthLock(month=month, locked_at=moment, locked_by=_locked_by(names), files=files)
        session.add(lock)
        session.flush()
        audit.record(
            session,
            actor=actor,
            action="report.lock",
            entity="report",
            entity_id=month_id,
            details={"reviewers": reviewers, "signed_by": names, "files": files},
            at=moment,
        )
    return signoff
