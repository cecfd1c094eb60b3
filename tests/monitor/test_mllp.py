"""The MLLP listener over a real TCP socket: one ACK per message, AA once its rows are
committed (and again, adding nothing, for a message sent twice), AE with the reason
for a refused message, AR when it is not HL7 or the monitor cannot take it yet."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from monitor.config import load_config
from monitor.errors import MissingKeyError
from monitor.mllp import END_BLOCK, START_BLOCK, MllpLimits, MllpListener, frames
from monitor.models import IngestionRun, Outcome
from monitor.storage import Database
from tests.connectors.message_samples import _report


def _frame(message: str) -> bytes:
    return START_BLOCK + message.encode("utf-8") + END_BLOCK


FRACTURE = _report("R1", "HL7-ACC-1", "F", "CONCLUSION : fracture du radius distal.")
PRELIMINARY = _report("R3", "HL7-ACC-3", "P", "Fracture probable du scaphoïde.")


def _listening(
    registered: Database,
    db_url: str,
    tmp_path: Path,
    pseudonym_key: bytes,
    limits: MllpLimits | None = None,
) -> Iterator[MllpListener]:
    config_path = tmp_path / "dmn-monitor.toml"
    config_path.write_text(f'[database]\nurl = "{db_url}"\n', encoding="utf-8")
    config = load_config(config_path)
    server = MllpListener(
        registered, config, pseudonym_key, host="127.0.0.1", port=0, limits=limits
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture
def listener(
    registered: Database, db_url: str, tmp_path: Path, pseudonym_key: bytes
) -> Iterator[MllpListener]:
    yield from _listening(registered, db_url, tmp_path, pseudonym_key)


def _exchange(address: tuple[str, int], payload: bytes, answers: int = 1) -> list[str]:
    with socket.create_connection(address, timeout=30) as sock:
        sock.sendall(payload)
        buffer = bytearray()
        got: list[str] = []
        while len(got) < answers:
            chunk = sock.recv(65536)
            assert chunk, "the listener closed the connection"
            buffer += chunk
            got += [m.decode("utf-8") for m in frames(buffer)]
    return got


def _msa(ack: str) -> list[str]:
    segment = next(s for s in ack.split("\r") if s.startswith("MSA"))
    return segment.split("|")


def _outcomes(db: Database) -> int:
    with db.session() as session:
        return int(session.scalar(select(func.count()).select_from(Outcome)) or 0)


def test_a_result_is_acknowledged_once_committed_and_not_added_twice(
    listener: MllpListener, registered: Database
) -> None:
    [ack] = _exchange(listener.address, _frame(FRACTURE))
    assert _msa(ack)[1:3] == ["AA", "R1"]
    assert ack.startswith("MSH|^~\\&|DMN-MONITOR")
    assert _outcomes(registered) == 1
    [again] = _exchange(listener.address, _frame(FRACTURE))
    assert _msa(again)[1] == "AA"
    assert _outcomes(registered) == 1


def test_each_message_of_a_stream_gets_its_answer(listener: MllpListener) -> None:
    payload = _frame(FRACTURE) + _frame(PRELIMINARY) + _frame("hello")
    acks = _exchange(listener.address, payload, answers=3)
    assert [_msa(a)[1] for a in acks] == ["AA", "AE", "AR"]
    assert _msa(acks[1])[2] == "R3"
    assert "preliminary" in acks[1]
    assert "ERR|" in acks[1]


def test_a_split_frame_is_reassembled() -> None:
    buffer = bytearray(b"noise" + START_BLOCK + b"MSH|a")
    assert list(frames(buffer)) == []
    buffer += b"|b" + END_BLOCK + START_BLOCK + b"MSH"
    assert list(frames(buffer)) == [b"MSH|a|b"]
    assert bytes(buffer) == START_BLOCK + b"MSH"


@pytest.mark.parametrize(
    ("failure", "words"),
    [
        (MissingKeyError("no key"), "pseudonymisation key"),
        (OperationalError("SELECT", {}, Exception("server closed")), "send again later"),
    ],
)
def test_when_the_monitor_cannot_take_it_the_sender_is_told_to_retry(
    listener: MllpListener,
    registered: Database,
    monkeypatch: pytest.MonkeyPatch,
    failure: Exception,
    words: str,
) -> None:
    def fails(*args: object, **kwargs: object) -> None:
        raise failure

    monkeypatch.setattr("monitor.push.ingest_payload", fails)
    [ack] = _exchange(listener.address, _frame(FRACTURE))
    assert _msa(ack)[1] == "AR"
    assert words in ack
    assert _outcomes(registered) == 0


@pytest.fixture
def tight(
    registered: Database, db_url: str, tmp_path: Path, pseudonym_key: bytes
) -> Iterator[MllpListener]:
    """A listener with small bounds: 3 connections, 1 s idle, 1 s for a message."""
    limits = MllpLimits(max_connections=3, idle_seconds=1.0, message_seconds=1.0)
    yield from _listening(registered, db_url, tmp_path, pseudonym_key, limits)


def _closed_after(sock: socket.socket) -> bytes:
    """What the listener sends before it closes ``sock`` (within 10 s)."""
    sock.settimeout(10)
    received = bytearray()
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return bytes(received)
        received += chunk


def test_connections_past_the_cap_are_refused_and_idle_ones_closed(tight: MllpListener) -> None:
    """Failed before: no cap (353 threads for as many idle connections), 300 s idle."""
    held = [socket.create_connection(tight.address, timeout=10) for _ in range(3)]
    try:
        extra = socket.create_connection(tight.address, timeout=10)
        refused = _closed_after(extra)
        extra.close()
        assert _msa(next(frames(bytearray(refused))).decode())[1] == "AR"
        assert b"too many connections" in refused
        # The held ones say nothing: each is closed once idle, and room comes back.
        assert all(_closed_after(sock) == b"" for sock in held)
    finally:
        for sock in held:
            sock.close()
    [ack] = _exchange(tight.address, _frame(FRACTURE))
    assert _msa(ack)[1] == "AA"


def test_a_message_trickled_byte_by_byte_is_cut_off(tight: MllpListener) -> None:
    """A sender that keeps a message open by sending a byte now and then (never idle)
    is answered AR once the message has taken longer than allowed."""
    with socket.create_connection(tight.address, timeout=10) as sock:
        sock.sendall(START_BLOCK + b"MSH|")
        answer = b""
        for byte in FRACTURE.encode()[4:40]:
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                break
            time.sleep(0.1)
        answer = _closed_after(sock)
    assert b"took too long" in answer


def test_a_flood_of_separators_is_refused_without_parsing(
    listener: MllpListener, registered: Database
) -> None:
    """Failed before: 4 MB of repetition separators took the parser about a minute."""
    flood = FRACTURE.rstrip("\r") + "\rNTE|1||" + "~" * 4_000_000
    [ack] = _exchange(listener.address, _frame(flood))
    assert _msa(ack)[1] == "AE"
    assert "separators" in ack
    assert _outcomes(registered) == 0


def test_a_connections_messages_are_one_ingestion_run(
    listener: MllpListener, registered: Database
) -> None:
    """Failed before: one run per message (100,002 runs for 100,000 messages). Each
    message still gets its own answer, counted on its own."""
    messages = [
        _report(f"R{i}", f"HL7-ACC-{i}", "F", "CONCLUSION : fracture du radius distal.")
        for i in range(20)
    ]
    acks = _exchange(listener.address, b"".join(_frame(m) for m in messages), answers=20)
    assert [_msa(a)[1:3] for a in acks] == [["AA", f"R{i}"] for i in range(20)]
    again = _exchange(listener.address, _frame(PRELIMINARY) + _frame(FRACTURE), answers=2)
    assert [_msa(a)[1] for a in again] == ["AE", "AA"]
    with registered.session() as session:
        runs = session.scalars(select(IngestionRun).order_by(IngestionRun.id)).all()
    assert [(r.rows_read, r.rows_accepted, r.rows_duplicate, r.status) for r in runs] == [
        (20, 20, 0, "completed"),
        (2, 0, 1, "completed"),  # the preliminary report refused, FRACTURE known
    ]
    assert _outcomes(registered) == 20
