"""Fixtures shared by the monitor tests."""

from __future__ import annotations

import pytest

from monitor.demo_data import DemoParameters
from tests.monitor.replay import Replayed, replayed_year


@pytest.fixture(scope="session")
def replayed_demo(tmp_path_factory: pytest.TempPathFactory) -> Replayed:
    """The demo's default year replayed (fracture-xr 2.4.0 misses fractures on Fujifilm
    images from 2025-07-20). Read it only; ``copy_url`` gives a copy to change."""
    return replayed_year(tmp_path_factory.mktemp("replayed-demo"), DemoParameters())
