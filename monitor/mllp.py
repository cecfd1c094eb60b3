"""An MLLP listener: HL7 v2 result feeds over TCP, one ACK or NAK per message.

RIS and LIS interface engines send each message framed as ``<VT> message <FS><CR>``
and wait for its acknowledgement. Each message goes through the same ingestion as
a file (:func:`monitor.push.ingest_payload`): accepted or already known - ``AA``;
refused (quarantined or unreadable, with the reason in ``MSA-3`` and ``ERR``) -
``AE``; not an HL7 message, or a failure of ours (the database down) - ``AR``, so
the sender keeps it and retries.
A message is acknowledged only once its rows are committed. Nothing of the
message (no identifier) is logged.
"""

from __future__ import annotations

import logging
import socket
import socketserver
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import hl7

from monitor.config import Config
from monitor.errors import MissingKeyError, MonitorError
from monitor.ingest import Kind
from monitor.storage import Database

__all__ = ["END_BLOCK", "START_BLOCK", "MllpLimits", "MllpListener", "ack_for", "frames"]

log = logging.getLogger(__name__)

START_BLOCK = b"\x0b"
END_BLOCK = b"\x1c\x0d"
MAX_MESSAGE_BYTES = 10_000_000


def frames(buffer: bytearray) -> Iterator[bytes]:
    """Take every complete ``<VT>...<FS><CR>`` frame out of ``buffer`` (bytes before a
    start block are dropped); what is left is an incomplete frame."""
    while True:
        start = buffer.find(START_BLOCK)
        if start < 0:
            buffer.clear()
            return
        end = buffer.find(END_BLOCK, start + 1)
        if end < 0:
            del buffer[:start]
            return
        message = bytes(buffer[start + 1 : end])
        del buffer[: end + len(END_BLOCK)]
        yield message


def _clean(text: str) -> str:
    """A reason made safe for one HL7 field (no separators or segment breaks)."""
    for char in "|^~\\&\r\n":
        text = text.replace(char, " ")
    return text[:200]


def ack_for(message: bytes, code: str, reason: str | None = None) -> bytes:
    """The MLLP-framed acknowledgement of ``message`` with ``code`` (AA, AE, AR); a
    message that cannot be parsed gets a minimal ACK naming no control id."""
    try:
        # The ACK needs the MSH segment only: the rest is never parsed here (a message of
        # millions of separators took the parser a minute).
        head = message.lstrip()[:65536].split(b"\r", 1)[0].split(b"\n", 1)[0]
        parsed = hl7.parse(head.decode("utf-8", errors="replace"))
        ack = parsed.create_ack(ack_code=code, application="DMN-MONITOR")
        body = str(ack).rstrip("\r")
        if reason:
            body = body + "|" + _clean(reason)
            body += f"\rERR|||207|E||||{_clean(reason)}"
    except Exception:
        body = f"MSH|^~\\&|DMN-MONITOR||||||ACK|||2.5\rMSA|{code}||" + _clean(
            reason or "not an HL7 v2 message"
        )
    return START_BLOCK + body.encode("utf-8") + b"\r" + END_BLOCK


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        sock: socket.socket = self.request
        limits = self.server.limits
        sock.settimeout(limits.idle_seconds)
        buffer = bytearray()
        started: float | None = None  # when the message being received began
        batch: int | None = None  # the connection's ingestion run, once it has one
        while not self.server.stopping.is_set():
            try:
                chunk = sock.recv(65536)
            except (TimeoutError, OSError):
                return
            if not chunk:
                return
            buffer += chunk
            if len(buffer) > MAX_MESSAGE_BYTES:
                sock.sendall(ack_for(b"", "AR", "message too large"))
                return
            for message in frames(buffer):
                ack, batch = self.server.listener.acknowledge_in(message, batch)
                sock.sendall(ack)
            if not buffer:
                started = None
                continue
            now = time.monotonic()
            started = now if started is None else started
            if now - started > limits.message_seconds:
                sock.sendall(ack_for(b"", "AR", "message took too long to arrive"))
                return


@dataclass(frozen=True)
class MllpLimits:
    """Bounds of the listener (``service.mllp_*``): connections open at once, seconds
    a connection may stay silent, seconds one message may take to arrive."""

    max_connections: int = 16
    idle_seconds: float = 60.0
    message_seconds: float = 60.0


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self, address: tuple[str, int], listener: MllpListener, limits: MllpLimits
    ) -> None:
        self.listener = listener
        self.stopping = threading.Event()
        self.limits = limits
        self._open = 0
        self._count = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        """A thread for the connection, unless as many as allowed are open: then an AR
        and the connection closed at once (no thread)."""
        with self._count:
            full = self._open >= self.limits.max_connections
            if not full:
                self._open += 1
        if full:
            try:
                request.settimeout(1.0)
                request.sendall(ack_for(b"", "AR", "too many connections, send again later"))
            except OSError:
                pass
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._count:
                self._open -= 1


class MllpListener:
    """Listens on ``host:port`` in a thread; ``start()``, ``stop()``."""

    def __init__(
        self,
        db: Database,
        config: Config,
        pseudonym_key: bytes | None,
        *,
        host: str,
        port: int,
        kind: Kind = "outcomes",
        limits: MllpLimits | None = None,
    ) -> None:
        self.db, self.config, self.key, self.kind = db, config, pseudonym_key, kind
        service = config.service
        chosen = limits or MllpLimits(
            service.mllp_max_connections, service.mllp_idle_seconds, service.mllp_message_seconds
        )
        self._server = _Server((host, port), self, chosen)
        self._thread: threading.Thread | None = None
        self.messages = 0

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._server.serve_forever, name="mllp", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop accepting; a message being ingested finishes and is acknowledged."""
        self._server.stopping.set()
        self._server.shutdown()
        self._server.server_close()

    def acknowledge(self, message: bytes) -> bytes:
        """Ingest one message (in a run of its own) and give its framed ACK/NAK."""
        return self.acknowledge_in(message, None)[0]

    def acknowledge_in(self, message: bytes, batch: int | None) -> tuple[bytes, int | None]:
        """Ingest one message into the run ``batch`` (None: a new one) and give its
        framed ACK/NAK and the run the next message of the connection goes into: a
        connection's messages are one ingestion run, not one run each."""
        from monitor.push import ingest_payload

        self.messages += 1
        if not message.lstrip().startswith(b"MSH"):
            return ack_for(message, "AR", "not an HL7 v2 message (no MSH segment)"), batch
        try:
            result = ingest_payload(
                self.db,
                self.config,
                self.kind,
                "hl7",
                message,
                name="mllp",
                pseudonym_key=self.key,
                into_run=batch,
            )
        except MissingKeyError:
            return ack_for(message, "AR", "no pseudonymisation key set on the monitor yet"), batch
        except MonitorError as exc:
            # The message itself cannot be read: sending it again will not help.
            return ack_for(message, "AE", str(exc).split(" (run ")[0]), batch
        except Exception as exc:
            log.error("MLLP message not ingested: %s", type(exc).__name__)
            reason = f"not ingested, send again later: {type(exc).__name__}"
            return ack_for(message, "AR", reason), batch
        if result.quarantined and not result.accepted and not result.duplicate:
            reasons = "; ".join(e.reason for e in result.errors) or "refused"
            return ack_for(message, "AE", reasons), result.run_id
        return ack_for(message, "AA"), result.run_id
