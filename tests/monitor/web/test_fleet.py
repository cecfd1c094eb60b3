"""The fleet page: one row per registered device with its traffic light for a month,
by the monthly report's rules, its volume, verification and performance against the
claim, and its findings."""

from __future__ import annotations

import re
from datetime import date

from monitor.report_data import gather_monthly_report
from monitor.web.pages_fleet import fleet_lines
from tests.monitor.web.conftest import Console


def _row(html: str, device_id: str) -> str:
    """The table row of ``device_id``."""
    found = re.search(rf'<tr id="device-{device_id}"[^>]*>.*?</tr>', html, re.S)
    assert found is not None, f"no row for {device_id}"
    return found.group(0)


def test_fleet_shows_each_devices_light_as_the_monthly_report_does(console: Console) -> None:
    viewer = console.browser("viewer")

    august = viewer.get("/fleet?month=2025-08")
    assert august.status_code == 200
    fracture = _row(august.text, "fracture-xr")
    # Red, said in a word, with the main reason and the sensitivity flagged under the claim.
    assert 'data-light="red"' in fracture and "light-red" in fracture and "rouge" in fracture
    assert "Sensibilité 84,5\u202f% [81,7–87,0] sous la performance annoncée" in fracture
    assert "sous l&#39;annonce" in fracture
    assert 'href="/findings?device=fracture-xr"' in fracture
    active = re.search(r"(\d+) actifs en fin de mois", fracture)
    assert active is not None and int(active.group(1)) > 0
    assert "Mois affiché\u00a0: août 2025" in august.text
    assert 'data-light="green"' in _row(august.text, "nodule-ct")

    june = viewer.get("/fleet?month=2025-06&lang=en")
    nodule = _row(june.text, "nodule-ct")
    assert 'data-light="green"' in nodule and ">green</span>" in nodule
    assert "Performance within the claimed values" in nodule
    assert 'data-light="green"' in _row(june.text, "fracture-xr")

    # By default: the latest month with data (the demo ends in December 2025).
    default = viewer.get("/fleet?lang=en")
    assert '<option value="2025-12" selected>' in default.text
    assert "Month shown: December 2025" in default.text

    wrong = viewer.get("/fleet?month=2025-13&lang=en")
    assert wrong.status_code == 400
    assert "Month &#39;2025-13&#39; is not valid" in wrong.text

    # A viewer gets no form but the month picker (GET) and logging out; no case reference.
    assert august.text.count('method="post"') == 1
    assert "case-" not in august.text
    assert console.anonymous().get("/fleet").status_code == 303

    # Same lights as the monthly report for the month.
    with console.db.session() as session:
        report = gather_monthly_report(session, console.config, date(2025, 8, 1))
        lines = fleet_lines(session, console.config, date(2025, 8, 1))
    assert [(d.device_id, d.light) for d in report.devices] == [
        (line.spec.id, line.light) for line in lines
    ]
