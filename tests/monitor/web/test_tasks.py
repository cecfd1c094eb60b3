"""Console tasks: long work in a thread, its progress seen by its owner only."""

from __future__ import annotations

import threading
from typing import Any

from monitor.errors import MonitorError
from monitor.web.tasks import Progress, TaskRegistry


def test_a_task_reports_progress_then_its_result_to_its_owner_only() -> None:
    tasks = TaskRegistry()
    step, finish = threading.Event(), threading.Event()

    def work(progress: Progress) -> dict[str, Any]:
        progress(1, 4, "first")
        step.set()
        finish.wait(10)
        progress(3, 4, "third")
        return {"redirect": "/fleet", "message": "done"}

    task_id = tasks.start("upload", "cmartin", work)
    assert step.wait(10)
    running = tasks.snapshot(task_id, "cmartin")
    assert running is not None
    assert (running["status"], running["done"], running["total"], running["message"]) == (
        "running",
        1,
        4,
        "first",
    )
    assert tasks.snapshot(task_id, "someone-else") is None
    assert tasks.snapshot("unknown", "cmartin") is None
    finish.set()
    assert tasks.wait(task_id, 10)
    done = tasks.snapshot(task_id, "cmartin")
    assert done is not None
    assert (done["status"], done["done"], done["result"]) == (
        "done",
        4,
        {"redirect": "/fleet", "message": "done"},
    )


def test_a_failed_task_says_why_and_hides_unexpected_errors() -> None:
    tasks = TaskRegistry()

    def refused(progress: Progress) -> dict[str, Any]:
        raise MonitorError("the file has no header line: export it with its header")

    def crashed(progress: Progress) -> dict[str, Any]:
        raise RuntimeError("secret internal detail")

    first = tasks.start("upload", "u", refused)
    second = tasks.start("upload", "u", crashed)
    assert tasks.wait(first, 10) and tasks.wait(second, 10)
    one, two = tasks.snapshot(first, "u"), tasks.snapshot(second, "u")
    assert one is not None and two is not None
    assert (one["status"], one["error"]) == (
        "failed",
        "the file has no header line: export it with its header",
    )
    assert two["status"] == "failed"
    assert "secret internal detail" not in str(two["error"])
    assert "server log" in str(two["error"])
