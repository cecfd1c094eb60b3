"""A device's page (its month as the report shows it and its registry entry) and the
registry entry's edit form, for admins only."""

from __future__ import annotations

import re

from monitor import registry
from monitor.registry import DeviceSpec
from monitor.web.pages_fleet import entry_document, form_values
from tests.monitor.web.conftest import Console


def _subgroup_row(html: str, key: str) -> str:
    found = re.search(rf'<tr[^>]*data-subgroup="{re.escape(key)}"[^>]*>.*?</tr>', html, re.S)
    assert found is not None, f"no subgroup row {key}"
    return found.group(0)


def _spec(console: Console, device_id: str) -> DeviceSpec:
    with console.db.session() as session:
        return registry.get_device(session, device_id)


def test_device_page_shows_the_month_and_the_registry_entry(console: Console) -> None:
    viewer = console.browser("viewer")

    page = viewer.get("/devices/fracture-xr?month=2025-08")
    assert page.status_code == 200
    html = page.text
    assert "<h1>FractaLens XR" in html and "light-red" in html
    # Charts: data URIs with an alt text saying what they show.
    charts = re.findall(r'<img src="data:image/svg\+xml;base64,[^"]+" alt="([^"]+)"', html)
    assert any(alt.startswith("Évolution mensuelle de la sensibilité") for alt in charts)
    assert any(alt.startswith("Carte CUSUM de la sensibilité") for alt in charts)
    # Fujifilm images: sensitivity significantly worse than the rest (Holm-adjusted).
    fujifilm = _subgroup_row(html, "scanner_manufacturer=Fujifilm")
    assert 'class="flag"' in fujifilm and "écart significatif (sensibilité)" in fujifilm
    assert "écart significatif" not in _subgroup_row(
        html, "scanner_manufacturer=Siemens Healthineers"
    )
    # The registry entry (3.4-05) and the versions in service.
    for shown in ("IIa", "Fictional Notified Body (NB 0000)", "Urgences, Radiologie", "01/06/2024"):
        assert shown in html
    assert "Instructions for use v2.3, section 9" in html and "PR-RAD-12" in html
    assert '<th scope="row">2.4.0</th>' in html
    # A viewer reads: no edit link, no form but the month picker and logging out.
    assert "/devices/fracture-xr/edit" not in html
    assert html.count('method="post"') == 1
    assert "case-" not in html

    english = viewer.get("/devices/nodule-ct?month=2025-08&lang=en").text
    assert '<html lang="en">' in english and "12-month trend" in english
    small = _subgroup_row(english, "patient_sex=U")
    assert 'class="too-small"' in small and "too few cases" in small

    missing = viewer.get("/devices/no-such-device")
    assert missing.status_code == 404 and "no-such-device" in missing.text

    form = form_values(_spec(console, "fracture-xr"))
    for role in ("viewer", "quality"):
        user = viewer if role == "viewer" else console.browser("quality")
        assert user.get("/devices/fracture-xr/edit").status_code == 403
        assert user.post("/devices/fracture-xr/edit", form).status_code == 403
    assert console.audit("device.updated") == []


def test_admin_edits_the_registry_entry_and_the_change_is_audited(console: Console) -> None:
    admin = console.browser("admin")
    assert "/devices/fracture-xr/edit" in admin.get("/devices/fracture-xr?month=2025-06").text
    edit = admin.get("/devices/fracture-xr/edit")
    assert edit.status_code == 200
    assert '<label for="f-risk_analysis.continuity_plan">' in edit.text
    assert "PR-RAD-12" in edit.text

    form = form_values(_spec(console, "fracture-xr"))
    # Nothing changed: nothing audited.
    same = admin.post("/devices/fracture-xr/edit", form)
    assert same.status_code == 303 and same.headers["location"].endswith("done=unchanged")
    assert console.audit("device.updated") == []

    form["risk_analysis.continuity_plan"] = "Lecture sans IA (procédure PR-RAD-99)"
    saved = admin.post("/devices/fracture-xr/edit", form)
    assert saved.status_code == 303
    assert saved.headers["location"] == "/devices/fracture-xr?done=saved"
    [entry] = console.audit("device.updated")
    assert entry.actor == "Alice Durand (adurand)"
    change = entry.details["changed"]["risk_analysis"]
    assert "PR-RAD-12" in change["from"]["continuity_plan"]
    assert change["to"]["continuity_plan"] == "Lecture sans IA (procédure PR-RAD-99)"
    shown = admin.get(saved.headers["location"] + "&month=2025-06").text
    assert "Fiche du registre enregistrée" in shown and "PR-RAD-99" in shown

    # An item left empty is shown as missing.
    form["risk_analysis.continuity_plan"] = ""
    assert admin.post("/devices/fracture-xr/edit", form).status_code == 303
    shown = admin.get("/devices/fracture-xr?month=2025-06&lang=en").text
    risk = shown[shown.index('id="risk-analysis"') :]
    assert "missing</span> – no continuity plan recorded" in risk

    # A sensitivity of 1.5: the form again, the error next to the field, nothing saved.
    form["claimed_performance.sensitivity"] = "1.5"
    refused = admin.post("/devices/fracture-xr/edit", form)
    assert refused.status_code == 400
    field = re.search(
        r'<p class="field-error">\s*<label for="f-claimed_performance.sensitivity">.*?</p>',
        refused.text,
        re.S,
    )
    assert field is not None and "Doit être compris entre 0 et 1" in field.group(0)
    assert 'value="1.5"' in field.group(0) and 'aria-invalid="true"' in field.group(0)
    assert _spec(console, "fracture-xr").claimed_performance.sensitivity == 0.91
    assert len(console.audit("device.updated")) == 2


def test_the_form_reads_decimal_commas_and_wants_both_bounds_of_an_interval() -> None:
    values = {
        "name": "X",
        "manufacturer": "M",
        "target": "fracture",
        "ai_based": "true",
        "indeterminate_policy": "exclude",
        "claimed_performance.sensitivity": "0,91",
        "claimed_performance.specificity": "0.8",
        "claimed_performance.specificity_ci.0": "0,7",
        "claimed_performance.source": "IFU",
        "versions": "1.0, 1.1 ,",
    }
    document, errors = entry_document("x", values)
    assert document["claimed_performance"]["sensitivity"] == "0.91"
    assert document["versions"] == ["1.0", "1.1"]
    assert errors == {"claimed_performance.specificity_ci.1": "fleet.err.both_bounds"}
    spec = DeviceSpec.model_validate(document)
    assert spec.claimed_performance.sensitivity == 0.91 and spec.operating_threshold is None


def test_the_form_takes_status_scale_and_operating_points_and_says_what_to_fix() -> None:
    values = {
        "name": "X",
        "manufacturer": "M",
        "target": "lung_nodule",
        "ai_based": "true",
        "indeterminate_policy": "exclude",
        "status": "under_evaluation",
        "score_scale": "percent",
        "operating_threshold": "40",
        "operating_points": "haute sensibilité = 25 ; haute spécificité = 60,5",
    }
    document, errors = entry_document("x", values)
    assert errors == {}
    spec = DeviceSpec.model_validate(document)
    assert (spec.status, spec.score_scale, spec.claimed_performance) == (
        "under_evaluation",
        "percent",
        None,
    )
    assert [(p.name, p.threshold) for p in spec.operating_points] == [
        ("haute sensibilité", 25.0),
        ("haute spécificité", 60.5),
    ]
    assert form_values(spec)["operating_points"] == (
        "haute sensibilité = 25; haute spécificité = 60.5"
    )
    _, errors = entry_document("x", {**values, "operating_points": "haute sensibilité"})
    assert errors == {"operating_points": "fleet.err.points"}


def test_a_device_in_service_needs_a_claim_and_thresholds_fit_the_scale(console: Console) -> None:
    admin = console.browser("admin")
    form = form_values(_spec(console, "nodule-ct"))
    for name in [k for k in form if k.startswith("claimed_performance.")]:
        form[name] = ""
    refused = admin.post("/devices/nodule-ct/edit?lang=en", form)
    assert refused.status_code == 400
    assert "Required for a device in service" in refused.text
    form["operating_threshold"] = "45"
    refused = admin.post("/devices/nodule-ct/edit?lang=en", {**form, "status": "under_evaluation"})
    assert refused.status_code == 400
    assert "Outside the device&#39;s score scale (0..1)" in refused.text

    form.update(status="under_evaluation", score_scale="percent", operating_points="tri = 30")
    saved = admin.post("/devices/nodule-ct/edit", form)
    assert saved.status_code == 303, saved.text
    spec = _spec(console, "nodule-ct")
    assert (spec.claimed_performance, spec.operating_threshold) == (None, 45.0)
    page = admin.get("/devices/nodule-ct?month=2025-06&lang=en").text
    assert "none (device under evaluation)" in page and "tri (30.00)" in page
    assert admin.get("/fleet?month=2025-06&lang=en").status_code == 200
