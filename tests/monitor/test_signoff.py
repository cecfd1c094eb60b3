"""The monthly review's sign-off: the reviewers named in [report] reviewers sign the
month's report files in turn; the last signature locks the month. Every signature
and the lock are audited in the signer's name; each refusal says what to do."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from monitor import audit
from monitor.config import Config, load_config
from monitor.errors import MonitorError
from monitor.models import MonthLock, MonthSignoff, User
from monitor.signoff import (
    month_files,
    month_lock,
    reviewer_for,
    sign_month,
    signoff_state,
)
from monitor.storage import Database
from monitor.users import create_user

AUGUST = date(2025, 8, 1)
SEPT_3 = datetime(2025, 9, 3, 8, 0, tzinfo=UTC)  # 10:00 in Paris
REVIEWERS = (
    "Dr Claire Martin - radiologue référente / referent radiologist",
    "Hélène Durand - responsable qualité / quality manager",
    "Paul Bernard - correspondant matériovigilance / materiovigilance correspondent",
)
PASSWORD = "correct horse battery staple"


def _config(
    folder: Path, url: str = "sqlite:///unused.db", reviewers: tuple[str, ...] = REVIEWERS
) -> Config:
    lines = ", ".join(json.dumps(r, ensure_ascii=False) for r in reviewers)
    path = folder / "dmn-monitor.toml"
    path.write_text(
        f'[database]\nurl = "{url}"\n[time]\ntimezone = "Europe/Paris"\n'
        f'[report]\nout_dir = "reports"\nreviewers = [{lines}]\n',
        encoding="utf-8",
    )
    return load_config(path)


def write_fake_report(folder: Path, month: str = "2025-08", stem_device: str | None = None) -> None:
    """A tiny stand-in for a written report: four renderings, one drift report and the
    manifest listing them (the names the report job gives them)."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"qc-report-{month}" + (f"-{stem_device}" if stem_device else "")
    renderings = [f"{stem}-{lang}.{fmt}" for lang in ("fr", "en") for fmt in ("html", "pdf")]
    drift = f"qc-report-{month}-frac-drift.html"
    for name in [*renderings, drift]:
        (folder / name).write_text(f"content of {name}", encoding="utf-8")
    manifest = {"month": month, "files": [*renderings, drift]}
    (folder / f"{stem}-manifest.json").write_text(json.dumps(manifest), encoding="utf-8")


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass
class Review:
    config: Config
    db: Database
    reports: Path
    users: dict[str, User]

    def sign(
        self, username: str, comment: str | None = None, now: datetime = SEPT_3
    ) -> MonthSignoff:
        with self.db.session.begin() as session:
            user = session.scalars(select(User).where(User.username == username)).one()
            return sign_month(session, self.config, AUGUST, user=user, comment=comment, now=now)

    def refusal(self, username: str, now: datetime = SEPT_3) -> str:
        with pytest.raises(MonitorError) as caught:
            self.sign(username, now=now)
        return str(caught.value)

    def count(self, model: type[MonthSignoff] | type[MonthLock]) -> int:
        with self.db.session() as session:
            return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _accounts(db: Database) -> dict[str, User]:
    people = {
        "cmartin": "Claire Martin",
        "hdurand": "Helene DURAND",  # no accent, other case: still her line
        "pbernard": "Paul Bernard",
        "jdoe": "John Doe",
    }
    with db.session.begin() as session:
        return {
            name: create_user(
                session, name, full_name=full, role="viewer", password=PASSWORD, actor="admin"
            )
            for name, full in people.items()
        }


@pytest.fixture
def review(tmp_path: Path, database: Database) -> Iterator[Review]:
    config = _config(tmp_path)
    write_fake_report(tmp_path / "reports")
    yield Review(config, database, tmp_path / "reports", _accounts(database))


# --- the files signed ----------------------------------------------------------------------


def test_the_month_files_are_the_whole_report_with_its_manifest_and_drift_reports(
    tmp_path: Path,
) -> None:
    config = _config(tmp_path)
    reports = tmp_path / "reports"
    write_fake_report(reports)
    write_fake_report(reports, stem_device="frac")  # a device's own report: not signed
    write_fake_report(reports, month="2025-07")
    files = month_files(config, AUGUST)
    assert sorted(files) == [
        "qc-report-2025-08-en.html",
        "qc-report-2025-08-en.pdf",
        "qc-report-2025-08-fr.html",
        "qc-report-2025-08-fr.pdf",
        "qc-report-2025-08-frac-drift.html",
        "qc-report-2025-08-manifest.json",
    ]
    assert files["qc-report-2025-08-fr.pdf"] == _sha(reports / "qc-report-2025-08-fr.pdf")
    assert month_files(config, date(2025, 9, 1)) == {}


def test_the_month_files_of_a_single_device_registry_carry_its_name(
    tmp_path: Path, database: Database
) -> None:
    from monitor.registry import import_registry, parse_registry
    from tests.conftest import registry_document

    document = registry_document()
    document["devices"] = document["devices"][:1]
    with database.session.begin() as session:
        import_registry(session, parse_registry(document), actor="test")
    config = _config(tmp_path)
    write_fake_report(tmp_path / "reports", stem_device="frac")
    assert month_files(config, AUGUST) == {}  # without the registry: not recognised
    with database.session() as session:
        files = month_files(config, AUGUST, session=session)
    assert "qc-report-2025-08-frac-manifest.json" in files and len(files) == 6


# --- who signs which line ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("full_name", "line"),
    [
        ("Claire Martin", REVIEWERS[0]),
        ("CLAIRE martin", REVIEWERS[0]),
        ("Helene Durand", REVIEWERS[1]),
        ("Hélène Durand", REVIEWERS[1]),
        ("Paul Bernard", REVIEWERS[2]),
        ("Martin", REVIEWERS[0]),
        ("Claire Mart", None),  # whole words only
        ("Martin Claire", None),  # in order
        ("John Doe", None),
        ("", None),
    ],
)
def test_a_user_signs_the_line_their_full_name_occurs_in(
    tmp_path: Path, full_name: str, line: str | None
) -> None:
    user = User(username="u", full_name=full_name)
    assert reviewer_for(_config(tmp_path), user) == line


# --- signing in turn -----------------------------------------------------------------------


def test_three_reviewers_sign_in_turn_and_the_third_locks_the_month(review: Review) -> None:
    files = month_files(review.config, AUGUST)
    first = review.sign("cmartin", comment="  Mois relu, RAS.  ")
    assert (first.reviewer, first.full_name, first.comment) == (
        REVIEWERS[0],
        "Claire Martin",
        "Mois relu, RAS.",
    )
    assert first.files == files
    review.sign("hdurand")
    with review.db.session() as session:
        state = signoff_state(session, review.config, AUGUST)
        assert month_lock(session, AUGUST) is None
    assert state["month"] == "2025-08" and not state["locked"]
    assert [s["signed"] for s in state["slots"]] == [True, True, False]
    assert state["slots"][1]["full_name"] == "Helene DURAND"
    assert state["slots"][1]["signed_at"] == SEPT_3  # aware, UTC
    assert state["slots"][2] == {
        "reviewer": REVIEWERS[2],
        "signed": False,
        "full_name": None,
        "username": None,
        "signed_at": None,
        "comment": None,
    }
    assert state["files"] == files

    review.sign("pbernard", now=datetime(2025, 9, 4, 9, 0, tzinfo=UTC))
    with review.db.session() as session:
        state = signoff_state(session, review.config, AUGUST)
        lock = month_lock(session, date(2025, 8, 17))
        entries = audit.list_entries(session, entity="report", entity_id="2025-08")
    assert lock is not None and lock.files == files
    assert lock.locked_by == "Claire Martin, Helene DURAND, Paul Bernard"
    assert lock.locked_at == datetime(2025, 9, 4, 9, 0, tzinfo=UTC)
    assert state["locked"] and state["locked_by"] == lock.locked_by
    assert all(s["signed"] for s in state["slots"])
    assert [(e.action, e.actor) for e in reversed(entries)] == [
        ("report.signoff", "Claire Martin (cmartin)"),
        ("report.signoff", "Helene DURAND (hdurand)"),
        ("report.signoff", "Paul Bernard (pbernard)"),
        ("report.lock", "Paul Bernard (pbernard)"),
    ]
    signed = entries[-1].details
    assert signed == {"reviewer": REVIEWERS[0], "files": files, "comment": "Mois relu, RAS."}
    assert entries[0].details["signed_by"] == ["Claire Martin", "Helene DURAND", "Paul Bernard"]


def test_the_locked_state_shows_the_signed_files_even_when_the_folder_changes(
    review: Review,
) -> None:
    for name in ("cmartin", "hdurand", "pbernard"):
        review.sign(name)
    signed = month_files(review.config, AUGUST)
    (review.reports / "qc-report-2025-08-fr.pdf").write_text("tampered", encoding="utf-8")
    with review.db.session() as session:
        assert signoff_state(session, review.config, AUGUST)["files"] == signed


# --- refusals ------------------------------------------------------------------------------


def test_no_signature_without_named_reviewers(review: Review) -> None:
    review.config = _config(review.reports.parent, reviewers=())
    message = review.refusal("cmartin")
    assert "name the reviewers in [report] reviewers first" in message
    assert review.count(MonthSignoff) == 0


def test_no_signature_before_the_month_has_ended_in_the_establishment_timezone(
    review: Review,
) -> None:
    # 2025-08-31 23:30 in Paris: still August there.
    message = review.refusal("cmartin", now=datetime(2025, 8, 31, 21, 30, tzinfo=UTC))
    assert message.startswith("2025-08 is not over yet (Europe/Paris)")
    assert review.count(MonthSignoff) == 0
    # 00:30 on 1 September in Paris (still August in UTC): it may be signed.
    review.sign("cmartin", now=datetime(2025, 8, 31, 22, 30, tzinfo=UTC))
    assert review.count(MonthSignoff) == 1


def test_no_signature_before_the_report_is_written(review: Review) -> None:
    (review.reports / "qc-report-2025-08-manifest.json").unlink()
    message = review.refusal("cmartin")
    assert "write the report first: dmn-monitor report monthly --month 2025-08" in message
    assert "console" in message


def test_only_the_named_reviewers_sign_and_they_are_listed(review: Review) -> None:
    message = review.refusal("jdoe")
    assert message.startswith("John Doe (jdoe) is not one of the reviewers")
    assert all(line in message for line in REVIEWERS)
    assert review.count(MonthSignoff) == 0


def test_a_reviewer_signs_a_month_once(review: Review) -> None:
    review.sign("cmartin")
    message = review.refusal("cmartin")
    assert "signed the review of 2025-08 already" in message
    assert "Claire Martin (cmartin), 2025-09-03 10:00" in message
    assert review.count(MonthSignoff) == 1


def test_a_locked_month_takes_no_more_signatures(review: Review) -> None:
    for name in ("cmartin", "hdurand", "pbernard"):
        review.sign(name)
    message = review.refusal("cmartin")
    assert message == (
        "the review of 2025-08 was signed and locked on 2025-09-03 by "
        "Claire Martin, Helene DURAND, Paul Bernard: it takes no more signatures"
    )
    assert review.count(MonthSignoff) == 3 and review.count(MonthLock) == 1


def test_a_report_rewritten_between_two_signatures_is_not_signed(review: Review) -> None:
    first = review.sign("cmartin")
    (review.reports / "qc-report-2025-08-fr.pdf").write_text("rewritten", encoding="utf-8")
    message = review.refusal("hdurand")
    assert "the report of 2025-08 was rewritten after it was signed" in message
    assert "Claire Martin (cmartin) signed version" in message and "2025-09-03 10:00" in message
    assert "changed qc-report-2025-08-fr.pdf" in message
    assert review.count(MonthSignoff) == 1
    # The signed files put back, the next reviewer signs them.
    (review.reports / "qc-report-2025-08-fr.pdf").write_text(
        "content of qc-report-2025-08-fr.pdf", encoding="utf-8"
    )
    assert review.sign("hdurand").files == first.files


def test_a_too_long_comment_is_refused(review: Review) -> None:
    with pytest.raises(MonitorError, match="at most 2000 characters"):
        review.sign("cmartin", comment="x" * 2001)
    assert review.count(MonthSignoff) == 0
