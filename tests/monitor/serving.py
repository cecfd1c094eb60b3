"""Run `dmn-monitor serve` as a real process on loopback for the service tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Served:
    """A running `serve` process; ``log`` collects its output."""

    process: subprocess.Popen[bytes]
    port: int
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"serve exited with {self.process.returncode}:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise AssertionError(f"serve not ready after {timeout} s:\n{self.log()}")

    def stop(self, timeout: float = 60.0) -> int:
        """SIGTERM, then the exit code (killed after ``timeout``: an assertion error)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"serve did not stop within {timeout} s:\n{self.log()}") from None


def start_serve(
    config: Path, url: str, folder: Path, *, name: str = "serve", extra: tuple[str, ...] = ()
) -> Served:
    """Start `python -m monitor serve` with ``config`` on database ``url`` (``extra``:
    more options of serve, e.g. ``("--no-scheduler",)``)."""
    port = free_port()
    log_path = folder / f"{name}.log"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("DMN_MONITOR_DB", None)
    with log_path.open("wb") as log:
        command = [sys.executable, "-m", "monitor", "serve", "--config", str(config)]
        process = subprocess.Popen(
            [*command, "--db", url, "--port", str(port), *extra],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=folder,
        )
    return Served(process, port, log_path, env)
