"""Long work started from the console (an upload's ingestion, a report), run in a
background thread with its progress, which the page follows.

A task reports progress as ``done`` out of ``total`` steps with a short message; the
page polls ``/tasks/<id>`` (JSON) through ``static/console.js`` and shows a
``<progress>`` bar, or a plain link to reload without JavaScript. Tasks live in the
process (a restarted service forgets them, the work they committed stays); a user
sees only their own tasks.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from monitor.errors import MonitorError
from monitor.timeutil import utc_now

__all__ = ["Progress", "Task", "TaskRegistry"]

log = logging.getLogger("monitor.web.tasks")


class Progress(Protocol):
    """What a task's function calls to report progress: ``done`` of ``total`` steps."""

    def __call__(self, done: int, total: int, message: str = "") -> None: ...


@dataclass
class Task:
    """One task's state (read it under :attr:`TaskRegistry.lock`, or through
    :meth:`TaskRegistry.snapshot`)."""

    id: str
    kind: str
    owner: str
    started_at: datetime
    done: int = 0
    total: int = 0
    message: str = ""
    status: str = "running"
    error: str | None = None
    result: dict[str, Any] = field(default_factory=dict)
    finished_at: datetime | None = None


class TaskRegistry:
    """The tasks of this process; keeps the last :attr:`KEEP` finished ones."""

    KEEP = 200

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._tasks: dict[str, Task] = {}

    def start(
        self,
        kind: str,
        owner: str,
        work: Callable[[Progress], dict[str, Any]],
    ) -> str:
        """Run ``work(progress)`` in a daemon thread; returns the task's id. ``work``
        returns the task's result (shown by the page); a MonitorError becomes the
        task's error message as is, any other exception a generic one (logged)."""
        task = Task(id=secrets.token_urlsafe(12), kind=kind, owner=owner, started_at=utc_now())
        with self.lock:
            self._tasks[task.id] = task
            self._forget_old()

        def progress(done: int, total: int, message: str = "") -> None:
            with self.lock:
                task.done, task.total, task.message = done, total, message

        def run() -> None:
            try:
                result = work(progress)
            except MonitorError as exc:
                with self.lock:
                    task.status, task.error = "failed", str(exc)
            except Exception:
                log.exception("console task %s (%s) failed", task.id, kind)
                with self.lock:
                    task.status = "failed"
                    task.error = "an unexpected error occurred; the server log has the details"
            else:
                with self.lock:
                    task.status, task.result = "done", result
                    task.done = max(task.done, task.total)
            finally:
                with self.lock:
                    task.finished_at = utc_now()

        threading.Thread(target=run, name=f"console-{kind}", daemon=True).start()
        return task.id

    def snapshot(self, task_id: str, owner: str) -> dict[str, Any] | None:
        """The task's state as JSON-ready values, or None when unknown or not ``owner``'s."""
        with self.lock:
            task = self._tasks.get(task_id)
            if task is None or task.owner != owner:
                return None
            return {
                "id": task.id,
                "kind": task.kind,
                "status": task.status,
                "done": task.done,
                "total": task.total,
                "message": task.message,
                "error": task.error,
                "result": dict(task.result),
            }

    def wait(self, task_id: str, timeout: float) -> bool:
        """Wait until the task has finished (tests); False when ``timeout`` s passed."""
        deadline = utc_now().timestamp() + timeout
        while utc_now().timestamp() < deadline:
            with self.lock:
                task = self._tasks.get(task_id)
                if task is None or task.finished_at is not None:
                    return True
            threading.Event().wait(0.05)
        return False

    def _forget_old(self) -> None:
        finished = [t for t in self._tasks.values() if t.finished_at is not None]
        if len(finished) > self.KEEP:
            finished.sort(key=lambda t: t.finished_at or t.started_at)
            for task in finished[: len(finished) - self.KEEP]:
                del self._tasks[task.id]
