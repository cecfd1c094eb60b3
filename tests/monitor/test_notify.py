"""Notifications delivered to real local servers: SMTP (STARTTLS + AUTH), webhook, Alertmanager.

Every attempt is recorded; a server that is down leads to retries with backoff and a
recorded failure, and the finding is never touched.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import select

from alerts.findings import FindingDraft
from monitor.cli import cli
from monitor.config import Config, NotificationChannelConfig, NotificationsConfig
from monitor.findings import finding_record, store_findings
from monitor.models import Finding, NotificationAttempt, NotificationDelivery
from monitor.notify import DispatchReport, list_deliveries, notify
from monitor.storage import Database
from tests.conftest import registry_document

PARIS = ZoneInfo("Europe/Paris")
AS_OF = datetime(2025, 6, 30, 21, 59, tzinfo=UTC)
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
TOKEN = "s3cret-webhook-token"
SMTP_USER, SMTP_PASSWORD = "dmn-monitor", "smtp-pa55word"
ENV = {"HOOK_TOKEN": TOKEN, "SMTP_PASSWORD": SMTP_PASSWORD}


# --- real local servers --------------------------------------------------------------------


class _RecordingServer(ThreadingHTTPServer):
    """An HTTP server that keeps every POST (path, headers, JSON body) and answers ``status``."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Recorder)
        self.received: list[dict[str, Any]] = []
        self.status = 200

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def bodies(self, path: str) -> list[Any]:
        return [r["body"] for r in self.received if r["path"] == path]


class _Recorder(BaseHTTPRequestHandler):
    server: _RecordingServer

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.received.append(
            {"path": self.path, "headers": dict(self.headers), "body": body}
        )
        answer = b"" if self.server.status < 300 else b'{"error": "refused by the test"}'
        self.send_response(self.server.status)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@pytest.fixture
def http_server() -> Iterator[_RecordingServer]:
    server = _RecordingServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


def _free_port() -> int:
    """A local port with nothing listening on it."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 / localhost (also its own CA) and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


class _Mailbox:
    """aiosmtpd handler and authenticator: keeps messages and the logins that sent them."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], Message, str | None]] = []
        self.logins: list[str] = []

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> Any:
        ok = (
            isinstance(data, LoginPassword)
            and data.login.decode() == SMTP_USER
            and data.password.decode() == SMTP_PASSWORD
        )
        if ok:
            self.logins.append(data.login.decode())
        return AuthResult(success=ok, handled=False, auth_data=data if ok else None)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        login = session.auth_data.login.decode() if session.authenticated else None
        message = message_from_bytes(envelope.content)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), message, login))
        return "250 Message accepted for delivery"


class _SmtpServer:
    """A real SMTP server on 127.0.0.1 requiring STARTTLS, then AUTH, before any mail."""

    def __init__(self, folder: Path) -> None:
        self.cert_file, key_file = _self_signed(folder)
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(self.cert_file, key_file)
        self.mailbox = _Mailbox()
        self.port = _free_port()
        self.controller = Controller(
            self.mailbox,
            hostname="127.0.0.1",
            port=self.port,
            tls_context=tls,
            require_starttls=True,
            auth_required=True,
            auth_require_tls=True,
            authenticator=self.mailbox.authenticate,
        )


@pytest.fixture
def smtp_server(tmp_path: Path) -> Iterator[_SmtpServer]:
    server = _SmtpServer(tmp_path)
    server.controller.start()
    yield server
    server.controller.stop()


# --- helpers -------------------------------------------------------------------------------


def _config(*channels: NotificationChannelConfig, **settings: Any) -> Config:
    return Config(notifications=NotificationsConfig(channels=channels, **settings))


def _webhook(url: str, **changes: Any) -> NotificationChannelConfig:
    values: dict[str, Any] = {"name": "tickets", "kind": "webhook", "url": url}
    values.update(changes)
    return NotificationChannelConfig(**values)


def _email(smtp: _SmtpServer, **changes: Any) -> NotificationChannelConfig:
    values: dict[str, Any] = {
        "name": "quality",
        "kind": "email",
        "smtp_host": "127.0.0.1",
        "smtp_port": smtp.port,
        "username": SMTP_USER,
        "password_env": "SMTP_PASSWORD",
        "ca_file": str(smtp.cert_file),
        "sender": "dmn-monitor@chu.example.fr",
        "recipients": ("qualite@chu.example.fr", "referent@chu.example.fr"),
    }
    values.update(changes)
    return NotificationChannelConfig(**values)


def _alertmanager(url: str, **changes: Any) -> NotificationChannelConfig:
    values: dict[str, Any] = {"name": "on-call", "kind": "alertmanager", "url": url}
    values.update(changes)
    return NotificationChannelConfig(**values)


def _raise(
    db: Database,
    severity: str = "critical",
    device_id: str = "frac",
    rule: str = "cusum",
    as_of: datetime = AS_OF,
) -> int:
    """Store one finding draft (a new finding, or an escalation of the open one); its id."""
    draft = FindingDraft(
        device_id=device_id,
        rule=rule,
        severity=severity,
        metric="sensitivity",
        device_version="1.0",
        subgroup={"site": "A"},
        value=0.71,
        threshold=4.2,
        evidence={"affected_cases": ["case-11", "case-12"], "affected_cases_total": 2},
    )
    with db.session.begin() as session:
        (finding,) = store_findings(session, [draft], as_of, PARIS)
        return finding.id


def _set_status(db: Database, finding_id: int, status: str) -> None:
    with db.session.begin() as session:
        finding = session.get(Finding, finding_id)
        assert finding is not None
        finding.status = status


def _deliveries(db: Database) -> list[dict[str, Any]]:
    with db.session() as session:
        return sorted(list_deliveries(session, PARIS, limit=None), key=lambda d: d["id"])


def _finding(db: Database, finding_id: int) -> dict[str, Any]:
    with db.session() as session:
        finding = session.get(Finding, finding_id)
        assert finding is not None
        return finding_record(finding, PARIS)


# --- tests ---------------------------------------------------------------------------------


def test_no_channel_means_nothing_is_queued_or_sent(registered: Database) -> None:
    _raise(registered)
    assert notify(registered, Config(), environ={}) == DispatchReport()
    with registered.session() as session:
        assert session.scalars(select(NotificationDelivery)).all() == []


def test_email_and_webhook_deliveries_are_received_by_real_servers(
    registered: Database, http_server: _RecordingServer, smtp_server: _SmtpServer
) -> None:
    critical = _raise(registered, "critical", device_id="frac")
    warning = _raise(registered, "warning", device_id="nod", rule="outage")
    config = _config(
        _webhook(http_server.url + "/hooks/dmn", token_env="HOOK_TOKEN"),
        _email(smtp_server, devices=("frac",)),
    )

    report = notify(registered, config, environ=ENV, now=T0)

    assert report == DispatchReport(queued=3, sent=3, failed=0, pending=0)
    posts = http_server.received
    assert [p["path"] for p in posts] == ["/hooks/dmn", "/hooks/dmn"]
    assert all(p["headers"]["Authorization"] == f"Bearer {TOKEN}" for p in posts)
    assert {p["body"]["finding"]["id"] for p in posts} == {critical, warning}
    assert {p["body"]["event_key"] for p in posts} == {"raised:critical", "raised:warning"}
    assert posts[0]["body"]["device"] == {"id": "frac", "name": "Fracture detector"}
    assert posts[0]["headers"]["Idempotency-Key"].startswith("dmn-monitor-delivery-")

    ((sender, rcpts, mail, login),) = smtp_server.mailbox.messages
    assert login == SMTP_USER  # authenticated, which the server allows only after STARTTLS
    assert sender == "dmn-monitor@chu.example.fr"
    assert rcpts == ["qualite@chu.example.fr", "referent@chu.example.fr"]
    assert "[CRITIQUE] Fracture detector (frac) v1.0" in mail["Subject"]
    assert "[CRITICAL]" in mail["Subject"]
    body = mail.get_payload(decode=True).decode("utf-8")  # type: ignore[union-attr]
    assert f"Constat n° {critical}" in body and f"Finding {critical}" in body
    assert "case-11" not in body

    deliveries = _deliveries(registered)
    assert [(d["channel"], d["status"], d["attempts"]) for d in deliveries] == [
        ("tickets", "sent", 1),
        ("quality", "sent", 1),
        ("tickets", "sent", 1),
    ]
    assert all(d["history"][0]["ok"] for d in deliveries)
    assert "accepted for 2 recipient(s)" in deliveries[1]["history"][0]["detail"]

    # A finding event is delivered once per channel: the next dispatch sends nothing.
    assert notify(registered, config, environ=ENV, now=T0 + timedelta(hours=1)) == (
        DispatchReport(queued=0, sent=0, failed=0, pending=0)
    )
    assert len(http_server.received) == 2 and len(smtp_server.mailbox.messages) == 1

    # Closed: the webhook is told it is resolved; the e-mail channel is not written to again.
    _set_status(registered, critical, "closed")
    closed = notify(registered, config, environ=ENV, now=T0 + timedelta(hours=2))
    assert (closed.queued, closed.sent) == (1, 1)
    resolved = http_server.received[2]["body"]
    assert (resolved["event"], resolved["finding"]["id"]) == ("resolved", critical)
    assert resolved["summary"]["en"].startswith("[resolved (closed)]")
    assert len(smtp_server.mailbox.messages) == 1


def _chart_draft(
    version: str | None, subgroup: dict[str, str] | None, cases: int, events: int
) -> FindingDraft:
    """A CUSUM finding on sensitivity since 2025-06-16 (in-control miss rate 0.09)."""
    start = int(datetime(2025, 6, 16, 8, tzinfo=UTC).timestamp() * 10**9)
    return FindingDraft(
        device_id="frac",
        rule="cusum",
        severity="critical",
        metric="sensitivity",
        device_version=version,
        subgroup=subgroup,
        window_start_ns=start,
        window_end_ns=int(AS_OF.timestamp() * 10**9),
        value=1 - events / cases,
        threshold=4.2,
        evidence={
            "in_control_source": "claim",
            "in_control_rate": 0.09,
            "cases_since_change": cases,
            "events_since_change": events,
            "metric_since_change": 1 - events / cases,
            "change_point_exam_ns": start,
            "affected_cases_total": events,
        },
    )


def test_one_message_per_incident_told_by_its_root_in_plain_words(
    registered: Database, http_server: _RecordingServer
) -> None:
    fuji = {"scanner_manufacturer": "Fujifilm"}
    drafts = [
        _chart_draft(None, None, cases=300, events=52),  # the whole device
        _chart_draft("1.0", fuji, cases=60, events=25),  # the slice that explains it
        _chart_draft(None, fuji, cases=100, events=30),
    ]
    with registered.session.begin() as session:
        whole, root, _ = (f.id for f in store_findings(session, drafts, AS_OF, PARIS))
    report = notify(registered, _config(_webhook(http_server.url)), environ={}, now=T0)
    assert (report.queued, report.sent) == (1, 1)
    (post,) = http_server.received
    assert post["body"]["finding"]["id"] == root
    assert post["body"]["finding"]["incident"] == root
    assert post["body"]["summary"]["en"] == (
        "[CRITICAL] Fracture detector (frac) v1.0: Version 1.0 on Fujifilm images: "
        "sensitivity 58% against 90% claimed, since 16 June 2025, 25 missed fractures"
    )
    assert whole != root


def test_an_escalation_is_notified_again_and_a_stale_pending_event_is_cancelled(
    registered: Database, http_server: _RecordingServer
) -> None:
    config = _config(_webhook(http_server.url))
    finding_id = _raise(registered, "warning")
    http_server.status = 503
    assert notify(registered, config, environ={}, now=T0).pending == 1
    http_server.status = 200
    assert _raise(registered, "critical", as_of=AS_OF + timedelta(days=1)) == finding_id

    report = notify(registered, config, environ={}, now=T0 + timedelta(seconds=5))

    assert (report.queued, report.sent, report.cancelled) == (1, 1, 1)
    assert [r["body"]["event_key"] for r in http_server.received] == [
        "raised:warning",  # the refused attempt
        "raised:critical",
    ]
    warning, critical = _deliveries(registered)
    assert (warning["status"], warning["last_error"]) == (
        "cancelled",
        "cancelled: superseded by raised:critical",
    )
    assert critical["status"] == "sent"


def test_a_server_that_is_down_is_retried_with_backoff_then_recorded_as_failed(
    registered: Database, smtp_server: _SmtpServer
) -> None:
    finding_id = _raise(registered, "critical")
    before = _finding(registered, finding_id)
    dead = f"http://127.0.0.1:{_free_port()}/hook"
    config = _config(
        _webhook(dead),
        _email(smtp_server, smtp_port=_free_port()),
        max_attempts=3,
        backoff_seconds=60,
    )

    first = notify(registered, config, environ=ENV, now=T0)
    assert first == DispatchReport(queued=2, sent=0, failed=0, pending=2)
    hook, mail = _deliveries(registered)
    assert hook["attempts"] == mail["attempts"] == 1
    assert "cannot reach http://127.0.0.1:" in hook["last_error"]
    assert "Connection refused" in hook["last_error"]
    assert "ConnectionRefusedError" in mail["last_error"]
    assert hook["next_attempt_at"] == (T0 + timedelta(seconds=60)).astimezone(PARIS).isoformat()

    # Not due yet: no attempt. Then 60 s, then 120 s later: the second and last attempts.
    assert notify(registered, config, environ=ENV, now=T0 + timedelta(seconds=59)).pending == 2
    assert [d["attempts"] for d in _deliveries(registered)] == [1, 1]
    assert notify(registered, config, environ=ENV, now=T0 + timedelta(seconds=60)).pending == 2
    hook = _deliveries(registered)[0]
    assert hook["next_attempt_at"] == (T0 + timedelta(seconds=180)).astimezone(PARIS).isoformat()
    last = notify(registered, config, environ=ENV, now=T0 + timedelta(seconds=180))
    assert last == DispatchReport(queued=0, sent=0, failed=2, pending=0)

    for delivery in _deliveries(registered):
        assert (delivery["status"], delivery["attempts"], delivery["next_attempt_at"]) == (
            "failed",
            3,
            None,
        )
        assert [(a["attempt"], a["ok"]) for a in delivery["history"]] == [
            (1, False),
            (2, False),
            (3, False),
        ]
    # Given up: later dispatches try no more; the finding is exactly as it was.
    notify(registered, config, environ=ENV, now=T0 + timedelta(days=2))
    with registered.session() as session:
        assert len(session.scalars(select(NotificationAttempt)).all()) == 6
    assert _finding(registered, finding_id) == before
    assert smtp_server.mailbox.messages == []


def test_a_refusal_that_retrying_cannot_cure_fails_at_once(
    registered: Database, http_server: _RecordingServer, smtp_server: _SmtpServer
) -> None:
    _raise(registered, "critical")
    http_server.status = 400
    config = _config(
        _webhook(http_server.url, name="bad-request"),
        _webhook(http_server.url, name="no-token", token_env="MISSING_TOKEN"),
        _email(smtp_server, name="bad-password"),
    )
    report = notify(registered, config, environ={"SMTP_PASSWORD": "wrong"}, now=T0)
    assert report == DispatchReport(queued=3, sent=0, failed=3, pending=0)
    errors = {d["channel"]: d["last_error"] for d in _deliveries(registered)}
    assert errors["bad-request"].startswith("HTTP 400 Bad Request from http://127.0.0.1:")
    assert "refused by the test" in errors["bad-request"]
    assert errors["no-token"] == (
        "the webhook token variable MISSING_TOKEN is not set in the environment of dmn-monitor"
    )
    assert errors["bad-password"].startswith(f"SMTP 127.0.0.1:{smtp_server.port}: 535")
    assert len(http_server.received) == 1  # the token-less channel sent nothing


def test_a_channel_that_times_out_is_not_tried_again_in_the_same_dispatch(
    registered: Database,
) -> None:
    _raise(registered, "critical", device_id="frac")
    _raise(registered, "critical", device_id="nod")
    with socket.socket() as silent:  # accepts connections (backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/hook"
        config = _config(_webhook(url), timeout_seconds=0.3)
        report = notify(registered, config, environ={}, now=T0)
    assert report == DispatchReport(queued=2, sent=0, failed=0, pending=2)
    first, second = _deliveries(registered)
    assert first["attempts"] == 1
    assert first["last_error"] == f"no answer from {url} within 0.3 s"
    assert second["attempts"] == 0 and second["history"] == []


def test_alertmanager_gets_active_findings_on_every_dispatch_and_resolutions(
    registered: Database, http_server: _RecordingServer
) -> None:
    hold = 7200
    config = _config(_alertmanager(http_server.url + "/"), alert_hold_seconds=hold)
    finding_id = _raise(registered, "warning")

    assert notify(registered, config, environ={}, now=T0).sent == 1
    ((alert,),) = http_server.bodies("/api/v2/alerts")
    assert alert["labels"] == {
        "alertname": "DmnMonitorCusum",
        "device": "frac",
        "version": "1.0",
        "rule": "cusum",
        "metric": "sensitivity",
        "severity": "warning",
        "subgroup": "site=A",
    }
    assert alert["annotations"]["finding_id"] == str(finding_id)
    assert alert["startsAt"] == AS_OF.isoformat()
    assert alert["endsAt"] == (T0 + timedelta(seconds=hold)).isoformat()

    # The next dispatch re-posts the still-active alert, pushing its end further.
    later = T0 + timedelta(hours=1)
    report = notify(registered, config, environ={}, now=later)
    assert (report.sent, report.refreshed) == (0, 1)
    ((again,),) = http_server.bodies("/api/v2/alerts")[1:]
    assert again["labels"] == alert["labels"]
    assert again["endsAt"] == (later + timedelta(seconds=hold)).isoformat()

    # Escalated: the critical alert fires and the warning one ends now.
    _raise(registered, "critical", as_of=AS_OF + timedelta(days=1))
    escalated = T0 + timedelta(hours=2)
    assert notify(registered, config, environ={}, now=escalated).sent == 1
    firing, ended = http_server.bodies("/api/v2/alerts")[2]
    assert (firing["labels"]["severity"], ended["labels"]["severity"]) == ("critical", "warning")
    assert firing["endsAt"] == (escalated + timedelta(seconds=hold)).isoformat()
    assert ended["endsAt"] == escalated.isoformat()

    # Dismissed: every alert of the finding ends now, and nothing is re-posted afterwards.
    _set_status(registered, finding_id, "dismissed")
    dismissed = T0 + timedelta(hours=3)
    report = notify(registered, config, environ={}, now=dismissed)
    assert (report.queued, report.sent, report.refreshed) == (1, 1, 0)
    resolved = http_server.bodies("/api/v2/alerts")[3]
    assert sorted(a["labels"]["severity"] for a in resolved) == ["critical", "warning"]
    assert {a["endsAt"] for a in resolved} == {dismissed.isoformat()}
    notify(registered, config, environ={}, now=T0 + timedelta(hours=4))
    assert len(http_server.bodies("/api/v2/alerts")) == 4

    events = [(d["event"], d["status"], d["attempts"]) for d in _deliveries(registered)]
    assert events == [
        ("raised:warning", "sent", 2),  # posted, then re-posted once
        ("raised:critical", "sent", 1),
        ("resolved", "sent", 1),
    ]


def test_alertmanager_down_keeps_the_alert_pending_and_records_each_post(
    registered: Database,
) -> None:
    _raise(registered, "critical")
    config = _config(_alertmanager(f"http://127.0.0.1:{_free_port()}"), max_attempts=2)
    assert notify(registered, config, environ={}, now=T0).pending == 1
    report = notify(registered, config, environ={}, now=T0 + timedelta(minutes=5))
    assert (report.failed, report.pending) == (1, 0)
    (delivery,) = _deliveries(registered)
    assert [a["ok"] for a in delivery["history"]] == [False, False]
    assert "/api/v2/alerts" in delivery["last_error"]


def test_the_cli_sends_and_lists_deliveries(
    db_url: str, http_server: _RecordingServer, tmp_path: Path
) -> None:
    runner = CliRunner()
    config_file = tmp_path / "dmn-monitor.toml"
    config_file.write_text(
        f"""
[notifications]
max_attempts = 2

[[notifications.channels]]
name = "tickets"
kind = "webhook"
url = "{http_server.url}/hook"
token_env = "HOOK_TOKEN"
min_severity = "critical"
""",
        encoding="utf-8",
    )
    registry = tmp_path / "devices.yaml"
    registry.write_text(json.dumps(registry_document()), encoding="utf-8")

    def run(*args: str) -> str:
        result = runner.invoke(cli, [*args, "--db", db_url, "--config", str(config_file)], env=ENV)
        assert result.exit_code == 0, result.output + str(result.exception)
        return result.output

    run("devices", "import", str(registry))
    from monitor.storage import open_database

    db = open_database(db_url)
    try:
        finding_id = _raise(db, "critical")
        _raise(db, "warning", device_id="nod")  # below the channel's min_severity
    finally:
        db.dispose()

    assert run("notifications", "send").strip() == (
        "queued 1, sent 1, failed 0, pending 0, alerts re-posted 0, cancelled 0"
    )
    assert http_server.received[0]["headers"]["Authorization"] == f"Bearer {TOKEN}"
    (listed,) = json.loads(run("notifications", "deliveries", "--format", "json"))
    assert (listed["finding_id"], listed["event"], listed["status"]) == (
        finding_id,
        "raised:critical",
        "sent",
    )
    table = run("notifications", "deliveries", "--status", "sent").splitlines()
    assert table[0].split() == [
        "id",
        "finding",
        "event",
        "channel",
        "kind",
        "status",
        "attempts",
        "when",
        "error",
    ]
    assert "raised:critical" in table[2] and "tickets" in table[2]
    assert run("notifications", "deliveries", "--status", "failed").strip() == "no deliveries"


def test_channels_are_checked_when_the_configuration_is_read() -> None:
    with pytest.raises(ValueError, match="needs url"):
        NotificationChannelConfig(name="x", kind="alertmanager")
    with pytest.raises(ValueError, match="needs smtp_host, sender, recipients"):
        NotificationChannelConfig(name="x", kind="email")
    with pytest.raises(ValueError, match="starttls"):
        NotificationChannelConfig(
            name="x",
            kind="email",
            smtp_host="h",
            sender="a@b",
            recipients=("c@d",),
            username="u",
            password_env="P",
            starttls=False,
        )
    hook = NotificationChannelConfig(name="x", kind="webhook", url="http://h/x")
    with pytest.raises(ValueError, match="unique: x"):
        NotificationsConfig(channels=(hook, hook))
