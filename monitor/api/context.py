"""What the routes share: configuration, database, key (on ``app.state``)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from fastapi import Request

from monitor.cells import CellSettings, ensure_summaries
from monitor.config import Config
from monitor.storage import Database

__all__ = ["API_PREFIX", "ApiState", "api_state"]

API_PREFIX = "/api/v1"
"""Where every authenticated route lives."""


@dataclass
class ApiState:
    """The service's state. ``summarised_db`` builds the per-cell summaries once."""

    config: Config
    db: Database
    pseudonym_key: bytes | None
    _summaries_checked: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def tz(self) -> ZoneInfo:
        """The configured local timezone."""
        return ZoneInfo(self.config.time.timezone)

    def summarised_db(self) -> Database:
        """The database with its case summaries cut as the configuration says."""
        with self._lock:
            if not self._summaries_checked:
                settings = CellSettings(self.config.time.timezone, self.config.subgroups.age_bands)
                with self.db.session.begin() as session:
                    ensure_summaries(session, settings)
                self._summaries_checked = True
        return self.db


def api_state(request: Request) -> ApiState:
    """The :class:`ApiState` of the app serving ``request``."""
    state: ApiState = request.app.state.api
    return state
