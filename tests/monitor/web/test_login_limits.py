"""Login bounds: per client, for the whole server, and at most N password checks at once."""

from __future__ import annotations

from monitor.web.login_limits import WINDOW_SECONDS, LoginLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _limiter(**kwargs: int) -> tuple[LoginLimiter, Clock]:
    clock = Clock()
    return LoginLimiter(clock=clock, **kwargs), clock


def test_a_client_gets_its_attempts_per_minute_then_429_until_the_oldest_leaves() -> None:
    limiter, clock = _limiter(per_client=3, per_minute=100, concurrent=5)
    for _ in range(3):
        assert limiter.admit("10.0.0.1") is None
        limiter.done()
        clock.now += 1
    refused = limiter.admit("10.0.0.1")
    assert refused is not None and refused.scope == "client"
    assert refused.retry_after == int(WINDOW_SECONDS) - 3
    assert limiter.admit("10.0.0.2") is None  # another client is not held back
    limiter.done()
    clock.now = 1000.0 + WINDOW_SECONDS + 0.5  # the first attempt has left the window
    assert limiter.admit("10.0.0.1") is None


def test_the_whole_server_takes_its_attempts_per_minute_from_every_client() -> None:
    limiter, _ = _limiter(per_client=100, per_minute=5, concurrent=5)
    for i in range(5):
        assert limiter.admit(f"10.0.0.{i}") is None
        limiter.done()
    refused = limiter.admit("10.0.0.99")
    assert refused is not None and refused.scope == "server"


def test_only_n_password_checks_run_at_once() -> None:
    limiter, _ = _limiter(per_client=100, per_minute=100, concurrent=2)
    assert limiter.admit("a") is None and limiter.admit("b") is None
    busy = limiter.admit("c")
    assert busy is not None and busy.scope == "busy"
    limiter.done()
    assert limiter.admit("c") is None


def test_a_refused_client_is_audited_once_a_minute_not_per_attempt() -> None:
    limiter, clock = _limiter(per_client=1, per_minute=100, concurrent=5)
    assert limiter.admit("x") is None
    limiter.done()
    audits = []
    for _ in range(50):
        refusal = limiter.admit("x")
        assert refusal is not None
        audits.append(refusal.audit)
    assert audits.count(True) == 1
    clock.now += WINDOW_SECONDS + 1
    assert limiter.admit("x") is None  # a new minute


def test_a_refused_client_is_held_back_at_once_until_its_window_frees() -> None:
    limiter, clock = _limiter(per_client=2, per_minute=100, concurrent=5)
    assert limiter.held_back("x") is None
    for _ in range(2):
        assert limiter.admit("x") is None
        limiter.done()
    assert limiter.held_back("x") is None  # not refused yet: the next attempt decides
    assert limiter.admit("x") is not None
    assert limiter.held_back("x") == int(WINDOW_SECONDS)
    assert limiter.held_back("y") is None
    clock.now += WINDOW_SECONDS + 1
    assert limiter.held_back("x") is None
