"""Bounds on console logins: a flood of bogus logins cannot starve the server.

A login costs a scrypt hash (about 16 MiB and 50 ms of one core, on purpose). Run in
the event loop, twenty concurrent bogus logins made every other request wait seconds.
So the hash runs in a worker thread, and before it does a login must pass three
bounds, else it is answered 429 at once (nothing hashed, nothing written):

- per client (its address): at most ``per_client`` attempts in a sliding minute;
- for the whole server: at most ``per_minute`` attempts in a sliding minute;
- at most ``concurrent`` hashes at once (one per core by default leaves the others
  for the pages and the API).

Failed logins that pass are audited as before (their number is bounded by the
limits); a client refused is audited once per minute (``user.login_throttled``), not
once per attempt.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["WINDOW_SECONDS", "LoginLimiter", "Refusal"]

WINDOW_SECONDS = 60.0
"""The sliding window of the per-client and global counts."""

MAX_CLIENTS = 10_000
"""Clients whose attempts are remembered; beyond, the oldest are forgotten first."""


@dataclass(frozen=True)
class Refusal:
    """Why a login was not tried: ``scope`` is "client", "server" or "busy";
    ``retry_after`` seconds until it may be; ``audit``: the first refusal of this
    client in the window (to be written once to the audit trail)."""

    scope: str
    retry_after: int
    audit: bool


@dataclass
class LoginLimiter:
    """Admits or refuses login attempts (thread-safe); see the module's docstring."""

    per_client: int = 10
    per_minute: int = 120
    concurrent: int = 1
    clock: Callable[[], float] = time.monotonic
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _clients: dict[str, deque[float]] = field(default_factory=dict, init=False, repr=False)
    _all: deque[float] = field(default_factory=deque, init=False, repr=False)
    _running: int = field(default=0, init=False, repr=False)
    _refused: dict[str, float] = field(default_factory=dict, init=False, repr=False)

    def admit(self, client: str) -> Refusal | None:
        """None if the attempt may hash now (then call :meth:`done` after it), else why
        not. An admitted attempt counts against both windows."""
        with self._lock:
            now = self.clock()
            start = now - WINDOW_SECONDS
            while self._all and self._all[0] <= start:
                self._all.popleft()
            mine = self._clients.get(client)
            if mine is not None:
                while mine and mine[0] <= start:
                    mine.popleft()
            refusal = None
            if mine is not None and len(mine) >= self.per_client:
                refusal = ("client", mine[0] + WINDOW_SECONDS - now)
            elif len(self._all) >= self.per_minute:
                refusal = ("server", self._all[0] + WINDOW_SECONDS - now)
            elif self._running >= self.concurrent:
                refusal = ("busy", 1.0)
            if refusal is not None:
                last = self._refused.get(client)
                audit = last is None or last <= start
                if audit:
                    self._forget(self._refused)
                    self._refused[client] = now
                return Refusal(refusal[0], max(1, int(refusal[1] + 0.999)), audit)
            if mine is None:
                self._forget(self._clients)
                mine = self._clients[client] = deque()
            mine.append(now)
            self._all.append(now)
            self._running += 1
            return None

    def held_back(self, client: str) -> int | None:
        """Seconds to wait if ``client`` was already refused in this window and is
        still over its bound (its next attempts are answered at once, with no work
        and no audit), else None. Counts nothing."""
        with self._lock:
            now = self.clock()
            last = self._refused.get(client)
            mine = self._clients.get(client)
            if last is None or last <= now - WINDOW_SECONDS or not mine:
                return None
            while mine and mine[0] <= now - WINDOW_SECONDS:
                mine.popleft()
            if len(mine) < self.per_client:
                return None
            return max(1, int(mine[0] + WINDOW_SECONDS - now + 0.999))

    def done(self) -> None:
        """An admitted attempt finished (whatever its result)."""
        with self._lock:
            self._running -= 1

    @staticmethod
    def _forget(known: dict[str, Any]) -> None:
        """Make room for one more client: the oldest remembered goes first."""
        while len(known) >= MAX_CLIENTS:
            known.pop(next(iter(known)))
