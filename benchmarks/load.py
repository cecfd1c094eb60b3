"""Twenty clients against `dmn-monitor serve` on the demo year, then a login flood.

Runs ``dmn-monitor demo`` into a temporary folder (or uses ``--demo DIR``), adds ten
console users and an API token, starts ``serve`` on loopback (no scheduler, console
cookies without ``Secure``: plain HTTP on 127.0.0.1), and measures, each request timed
from the client:

1. ``reference``: ``/healthz`` alone, one client (the same process and server);
2. ``load``: 10 API clients (a bearer token each) and 10 console clients (logged in
   through the login form), for ``--seconds`` (default 60), each looping over its
   routes: p50 / p95 per route, requests and errors (status >= 400 or no answer);
3. ``flood``: 20 clients (threads) that fetch the login form once, then post bogus
   logins as fast as they are answered, for
   ``--flood-seconds`` (default 15), while one client asks ``/healthz`` every 50 ms:
   its p50 / p95 (target: p50 < 50 ms), and how the logins were answered.

The table's ``x ref`` is a route's p50 over the reference ``/healthz`` p50.

    python benchmarks/load.py [--seconds 60] [--flood-seconds 15] [--demo DIR]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path

import httpx
from sqlalchemy import select

from monitor.config import load_config
from monitor.models import Finding
from monitor.storage import open_database
from monitor.tables import render_table
from monitor.tokens import create_token
from monitor.users import create_user

PASSWORD = "benchmark passphrase 2025"
MONTH = "2025-08"
API_ROUTES = (
    "/api/v1/devices",
    "/api/v1/findings",
    "/api/v1/evaluations?device=fracture-xr",
    "/api/v1/status",
)
CONSOLE_ROUTES = (f"/fleet?month={MONTH}", "/findings", f"/devices/fracture-xr?month={MONTH}")


def _demo(folder: Path) -> Path:
    """``benchmarks/console.py``'s demo run (not a package: loaded from its file)."""
    path = Path(__file__).resolve().with_name("console.py")
    spec = importlib.util.spec_from_file_location("_bench_console", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    made: Path = module._demo(folder)
    return made


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(config: Path, folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    log = (folder / "serve.log").open("wb")
    command = [sys.executable, "-m", "monitor", "serve", "--config", str(config)]
    command += ["--port", str(port), "--no-scheduler"]
    process = subprocess.Popen(
        command,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=folder,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    process.kill()
    sys.exit(f"serve did not become ready: see {folder / 'serve.log'}")


def _timed(client: httpx.Client, method: str, path: str, **kwargs: object) -> tuple[float, int]:
    started = time.perf_counter()
    try:
        status = client.request(method, path, **kwargs).status_code  # type: ignore[arg-type]
    except httpx.HTTPError:
        status = 0
    return (time.perf_counter() - started) * 1000, status


def _login(client: httpx.Client, username: str) -> None:
    page = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    answer = client.post(
        "/login", data={"csrf_token": token.group(1), "username": username, "password": PASSWORD}
    )
    if answer.status_code != 303:
        sys.exit(f"console login of {username} failed: {answer.status_code}")


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def _loop(stop: threading.Event, work: Callable[[], None]) -> threading.Thread:
    def run() -> None:
        while not stop.is_set():
            work()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--flood-seconds", type=float, default=15.0)
    parser.add_argument("--demo", type=Path, default=None, help="an earlier demo's folder")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.demo or _demo(Path(tmp) / "demo")
        config_path = Path(tmp) / "load.toml"
        text = (folder / "dmn-monitor.toml").read_text(encoding="utf-8")
        database = load_config(folder / "dmn-monitor.toml").database.url
        text = re.sub(r"(?m)^\[database\][^\[]*", "", text)
        config_path.write_text(
            f'{text}\n[database]\nurl = "{database}"\n[console]\nsecure_cookies = false\n',
            encoding="utf-8",
        )
        db = open_database(database)
        stamp = time.time_ns()
        users = [f"load{stamp}x{i}" for i in range(10)]
        with db.session.begin() as session:
            if session.scalar(select(Finding.id).limit(1)) is None:
                sys.exit("the demo's database has no findings: run the demo first")
            for name in users:
                create_user(
                    session, name, full_name=name, role="quality", password=PASSWORD, actor="load"
                )
            _token, secret = create_token(session, f"load{stamp}", "viewer", user="load")
        db.dispose()
        process, url = _serve(config_path, Path(tmp))
        try:
            _measure(url, users, secret, args.seconds, args.flood_seconds)
        finally:
            process.terminate()
            process.wait(timeout=60)


def _measure(url: str, users: list[str], secret: str, seconds: float, flood: float) -> None:
    with httpx.Client(base_url=url, timeout=30) as alone:
        reference = [_timed(alone, "GET", "/healthz")[0] for _ in range(200)]
    reference_p50 = statistics.median(reference)

    times: dict[str, list[float]] = defaultdict(list)
    errors: Counter[str] = Counter()
    lock = threading.Lock()
    stop = threading.Event()
    threads = []

    def client_work(client: httpx.Client, routes: tuple[str, ...]) -> Callable[[], None]:
        position = [0]

        def work() -> None:
            path = routes[position[0] % len(routes)]
            position[0] += 1
            elapsed, status = _timed(client, "GET", path)
            route = path.split("?")[0]
            with lock:
                times[route].append(elapsed)
                if status == 0 or status >= 400:
                    errors[route] += 1

        return work

    clients = []
    for i in range(10):
        api = httpx.Client(base_url=url, timeout=30, headers={"Authorization": f"Bearer {secret}"})
        console = httpx.Client(base_url=url, timeout=30, follow_redirects=False)
        _login(console, users[i])
        clients += [api, console]
        threads.append(_loop(stop, client_work(api, API_ROUTES)))
        threads.append(_loop(stop, client_work(console, CONSOLE_ROUTES)))
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join(timeout=60)
    for client in clients:
        client.close()

    answers: Counter[int] = Counter()
    health: list[float] = []
    flood_stop = threading.Event()

    def bogus() -> Callable[[], None]:
        """A client that fetches the login form once, then posts bogus logins."""
        client = httpx.Client(base_url=url, timeout=30)
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
        data = {
            "csrf_token": token.group(1) if token else "",
            "username": "nobody",
            "password": "wrong password",
        }

        def work() -> None:
            _elapsed, status = _timed(client, "POST", "/login", data=data)
            with lock:
                answers[status] += 1

        return work

    flooders = [_loop(flood_stop, bogus()) for _ in range(20)]
    with httpx.Client(base_url=url, timeout=30) as watcher:
        ends = time.monotonic() + flood
        while time.monotonic() < ends:
            health.append(_timed(watcher, "GET", "/healthz")[0])
            time.sleep(0.05)
    flood_stop.set()
    for thread in flooders:
        thread.join(timeout=60)

    rows = [
        {
            "phase": "reference",
            "route": "/healthz (alone)",
            "requests": len(reference),
            "errors": 0,
            "p50 ms": f"{reference_p50:.1f}",
            "p95 ms": f"{_percentile(reference, 0.95):.1f}",
            "x ref": "1.0",
        }
    ]
    for route in sorted(times):
        values = times[route]
        rows.append(
            {
                "phase": "load (20 clients)",
                "route": route,
                "requests": len(values),
                "errors": errors[route],
                "p50 ms": f"{statistics.median(values):.1f}",
                "p95 ms": f"{_percentile(values, 0.95):.1f}",
                "x ref": f"{statistics.median(values) / reference_p50:.1f}",
            }
        )
    rows.append(
        {
            "phase": "flood (20 bogus logins)",
            "route": "/healthz",
            "requests": len(health),
            "errors": 0,
            "p50 ms": f"{statistics.median(health):.1f}",
            "p95 ms": f"{_percentile(health, 0.95):.1f}",
            "x ref": f"{statistics.median(health) / reference_p50:.1f}",
        }
    )
    print(render_table(rows, list(rows[0])))
    print()
    said = ", ".join(f"{status or 'no answer'}: {n}" for status, n in sorted(answers.items()))
    print(f"bogus logins answered: {said}")
    target = "met" if statistics.median(health) < 50 else "NOT met"
    print(f"/healthz p50 during the flood: {statistics.median(health):.1f} ms (< 50 ms: {target})")


if __name__ == "__main__":
    main()
