"""The console's findings pages: the list, a finding's evidence and chart, its review
by the quality role (audited with the user's name), corrective actions, the
materiovigilance draft, and what a viewer may not see or do."""

from __future__ import annotations

import re
from datetime import date

from monitor import workflow
from monitor.models import Finding, ReviewItem
from monitor.review import case_summary, finding_cases
from monitor.vigilance import write_draft
from tests.monitor.replay import PARIS
from tests.monitor.web.conftest import Console


def _demo_findings(console: Console) -> tuple[int, int, int]:
    """The ids, found by what they are about, of the demo's critical CUSUM finding
    (fracture-xr 2.4.0 x Fujifilm, sensitivity), of an input-drift finding of nodule-ct
    (no chart, no metric of performance) and of fracture-xr 2.4.0 x Fujifilm below its
    claimed sensitivity (a monthly trend)."""
    fuji = {"scanner_manufacturer": "Fujifilm"}
    with console.db.session() as session:
        found = session.query(Finding).order_by(Finding.id).all()
    critical = next(
        f.id
        for f in found
        if (f.rule, f.device_version, f.subgroup, f.metric)
        == ("cusum", "2.4.0", fuji, "sensitivity")
    )
    drift = next(f.id for f in found if f.rule == "input_drift" and f.device_id == "nodule-ct")
    below = next(
        f.id
        for f in found
        if (f.rule, f.device_version, f.subgroup) == ("below_claim", "2.4.0", fuji)
    )
    return critical, drift, below


QUALITY = "Claire Martin (cmartin)"


def _status(console: Console, finding_id: int) -> str:
    with console.db.session() as session:
        return session.get_one(Finding, finding_id).status


def _row_of(html: str, finding_id: int) -> str:
    found = re.search(
        rf'<tr>\s*<th scope="row"><a href="/findings/{finding_id}".*?</tr>', html, re.S
    )
    assert found is not None, f"finding {finding_id} is not listed"
    return found.group(0)


def test_the_list_and_a_findings_page_show_the_demo_incident(console: Console) -> None:
    critical, drift, below = _demo_findings(console)
    browser = console.browser("quality")
    listing = browser.get("/findings")
    assert listing.status_code == 200
    row = _row_of(listing.text, critical)
    assert "fracture-xr" in row and "2.4.0" in row
    assert "Fujifilm" in row and "constructeur de l&#39;appareil d&#39;imagerie" in row
    assert "carte CUSUM" in row and "sensibilité" in row
    assert 'class="badge sev-critical"' in row and "critique" in row
    assert "ouvert" in row
    assert re.search(r"constat\(s\) affiché\(s\) sur", listing.text)

    only_drift = browser.get("/findings?device=nodule-ct&severity=info&status=all").text
    assert f'href="/findings/{drift}"' in only_drift
    assert f'href="/findings/{critical}"' not in only_drift
    assert '<option value="nodule-ct" selected>' in only_drift  # the filter is kept
    with_incident = browser.get("/findings?device=fracture-xr").text
    assert '<option value="fracture-xr" selected>' in with_incident

    page = browser.get(f"/findings/{critical}")
    assert page.status_code == 200
    text = page.text
    assert f"Constat n°\u00a0{critical}" in text
    with console.db.session() as session:
        limit = session.get_one(Finding, critical).evidence["decision_limit"]
    assert "Limite de décision" in text and f"{limit:.2f}".replace(".", ",") in text
    assert "Valeur revendiquée" in text and "91,0 %" in text
    # The finding in plain words first: the figures against the claim, since when.
    assert re.search(
        r"<p><strong>Version 2\.4\.0 sur les images Fujifilm : sensibilité \d+\u202f% pour "
        r"91\u202f% revendiqués, depuis le \d+ juillet 2025, \d+ fractures manquées</strong>",
        text,
    )
    assert '<img src="data:image/svg+xml;base64,' in text
    assert "Carte carte CUSUM" not in text
    assert re.search(r'<a href="/review/case-\d+"', text)
    assert f'action="/findings/{critical}/queue-cases"' in text
    assert f'href="/review?finding={critical}"' in text
    assert f'action="/findings/{critical}/acknowledge"' in text
    assert f'action="/findings/{critical}/confirm"' not in text
    assert "dmn-monitor check" in text  # the history names who opened it
    assert f"Ce constat est la racine de l&#39;incident n°\u00a0{critical}" in text

    trend = browser.get(f"/findings/{below}").text
    assert "Évolution mensuelle de la sensibilité" in trend
    drift_page = browser.get(f"/findings/{drift}").text
    assert "Pas de graphique pour ce type de constat" in drift_page
    assert "Valeur observée" not in drift_page  # a drift index is not a proportion

    english = browser.get(f"/findings/{critical}?lang=en").text
    assert f"Finding {critical}" in english and "Decision limit" in english
    assert "critical" in english
    assert "scanner manufacturer Fujifilm" in english
    listing_en = browser.get("/findings?lang=en").text
    assert '<h2 id="incidents">Incidents</h2>' in listing_en
    incident = re.search(
        r'<h3 id="incident-(\d+)">.*?Incident \1 · fracture-xr</h3>\s*<p><strong>(.*?)</strong>',
        listing_en,
        re.S,
    )
    assert incident is not None
    assert incident.group(1) == str(critical)  # the slice that explains the drop heads it
    assert incident.group(2).startswith("Version 2.4.0 on Fujifilm images: sensitivity ")
    assert "% against 91% claimed, since " in incident.group(2)
    assert "Value / threshold" not in listing_en  # limits and values stay on a finding's page
    assert "Other findings (information, operations), newest first" in listing_en

    assert browser.get("/findings/999999").status_code == 404

    # Dismissing needs a reason from the list and is audited with it.
    assert browser.post(f"/findings/{drift}/acknowledge", {"comment": "vu"}).status_code == 303
    refused = browser.post(f"/findings/{drift}/dismiss", {"comment": "bruit", "reason": "x"})
    assert refused.status_code == 400
    moved = browser.post(f"/findings/{drift}/dismiss", {"comment": "bruit", "reason": "data_error"})
    assert moved.status_code == 303
    assert _status(console, drift) == "dismissed"
    entry = console.audit("finding.dismiss")[0]
    assert entry.actor == QUALITY and entry.details["reason"] == "data_error"
    assert "erreur de données" in browser.get(f"/findings/{drift}").text


def test_quality_reviews_acts_and_drafts_the_declaration(console: Console) -> None:
    critical, _, _ = _demo_findings(console)
    browser = console.browser("quality")
    path = f"/findings/{critical}"
    browser.get(path)

    empty = browser.post(f"{path}/acknowledge", {"comment": "  "})
    assert empty.status_code == 400
    assert "Le commentaire est obligatoire" in empty.text
    assert _status(console, critical) == "open"
    assert console.audit("finding.acknowledge") == []

    done = browser.post(f"{path}/acknowledge", {"comment": "Vu en staff qualité"})
    assert done.status_code == 303
    assert done.headers["location"] == f"{path}?done=step"
    illegal = browser.post(f"{path}/close", {"comment": "trop tôt"})
    assert illegal.status_code == 409
    assert "cannot close a finding that is acknowledged" in illegal.text
    confirmed = browser.post(f"{path}/confirm", {"comment": "Manques sur Fujifilm confirmés"})
    assert confirmed.status_code == 303
    assert _status(console, critical) == "confirmed"
    page = browser.get(f"{path}?done=step").text
    assert "Étape enregistrée." in page and "confirmé" in page
    for verb, comment in (
        ("acknowledge", "Vu en staff qualité"),
        ("confirm", "Manques sur Fujifilm confirmés"),
    ):
        entry = console.audit(f"finding.{verb}")[0]
        assert entry.actor == QUALITY
        assert entry.details["comment"] == comment
    assert QUALITY in page  # the history names the user

    # A corrective action, then marked done.
    no_owner = {"kind": "contact_manufacturer", "description": "Appel", "comment": "x"}
    assert browser.post(f"{path}/actions", no_owner).status_code == 400
    added = browser.post(
        f"{path}/actions",
        {
            "kind": "contact_manufacturer",
            "description": "Signalement au fabricant",
            "owner": "Ingénieur biomédical",
            "due_date": "2026-01-15",
            "comment": "Action décidée en revue",
        },
    )
    assert added.status_code == 303
    assert _status(console, critical) == "action_taken"
    page = browser.get(path).text
    assert "fabricant contacté" in page and "Signalement au fabricant" in page
    form = re.search(r'action="/actions/(\d+)/done"', page)
    assert form is not None
    action_id = int(form.group(1))
    assert browser.post(f"/actions/{action_id}/done", {"comment": ""}).status_code == 400
    marked = browser.post(
        f"/actions/{action_id}/done", {"comment": "Fabricant joint", "date": "2026-01-10"}
    )
    assert marked.status_code == 303
    with console.db.session() as session:
        actions = workflow.list_actions(session, critical)
    assert actions[0].done_date == date(2026, 1, 10)
    assert actions[0].completed_by == QUALITY
    assert console.audit("finding.action_done")[0].actor == QUALITY
    assert f'action="/actions/{action_id}/done"' not in browser.get(path).text

    # The finding's discordant cases go to the review queue.
    queued = browser.post(f"{path}/queue-cases", {})
    assert queued.status_code == 303
    entry = console.audit("console.queue_cases")[0]
    assert entry.actor == QUALITY and entry.entity_id == str(critical)
    assert queued.headers["location"].endswith(f"count={entry.details['queued']}")
    with console.db.session() as session:
        items = session.query(ReviewItem).filter(ReviewItem.finding_id == critical).count()
        finding = session.get_one(Finding, critical)
        expected = case_summary(finding_cases(session, finding, PARIS))["in_metric_discordant"]
    assert items == expected > 0  # every discordant case of the metric

    # The materiovigilance draft, written, recorded and downloaded.
    drafted = browser.post(f"{path}/vigilance", {"lang": "fr", "format": "pdf"})
    assert drafted.status_code == 303
    entry = console.audit("vigilance.draft")[0]
    assert entry.actor == QUALITY and entry.details["format"] == "pdf"
    page = browser.get(path).text
    link = re.search(rf'href="({path}/vigilance/\d+)"', page)
    assert link is not None
    download = browser.get(link.group(1))
    assert download.status_code == 200
    assert download.headers["content-type"] == "application/pdf"
    assert download.headers["content-disposition"].startswith("attachment;")
    assert download.content.startswith(b"%PDF")


def test_a_viewer_reads_without_case_references_or_forms(console: Console) -> None:
    critical, _, _ = _demo_findings(console)
    with console.db.session.begin() as session:
        workflow.acknowledge(session, critical, user=QUALITY, comment="vu case-17811")
        workflow.confirm(session, critical, user=QUALITY, comment="case-17841 manqué")
        draft = write_draft(
            session,
            critical,
            lang="fr",
            fmt="html",
            out=console.folder / "draft.html",
            user=QUALITY,
            tz=PARIS,
        )
    viewer = console.browser("viewer")
    page = viewer.get(f"/findings/{critical}")
    assert page.status_code == 200
    assert "case-" not in page.text
    assert "Discordants dans l&#39;indicateur" in page.text  # the counts are shown
    assert '<form method="post" action="/findings' not in page.text
    assert '<form method="post" action="/actions' not in page.text
    assert "draft.html" in page.text
    assert f"/vigilance/{draft.draft_id}" not in page.text
    assert "case-" not in viewer.get("/findings?status=all").text

    for target, form in (
        (f"/findings/{critical}/dismiss", {"comment": "x", "reason": "other"}),
        (f"/findings/{critical}/actions", {"comment": "x"}),
        (f"/findings/{critical}/queue-cases", {}),
        (f"/findings/{critical}/vigilance", {"lang": "fr", "format": "pdf"}),
    ):
        assert viewer.post(target, form).status_code == 403, target
    download = viewer.get(f"/findings/{critical}/vigilance/{draft.draft_id}")
    assert download.status_code == 403
    assert _status(console, critical) == "confirmed"
    assert console.audit("console.") == []
