"""The demo's injected degradation taken through the whole review from the command line:
acknowledged, its cases reviewed, confirmed, acted on and closed, every step in the
audit log; steps out of order are refused with a message saying what to do."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from monitor.cli import cli
from tests.monitor.replay import Replayed


class _Cli:
    def __init__(self, replayed: Replayed, url: str) -> None:
        self.base = ["--config", str(replayed.config_path), "--db", url]

    def run(self, *args: str) -> Result:
        return CliRunner().invoke(cli, [*args[:2], *self.base, *args[2:]])

    def ok(self, *args: str) -> str:
        result = self.run(*args)
        assert result.exit_code == 0, result.output
        return result.stdout

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "--format", "json"))


def _degradation(app: _Cli) -> dict[str, Any]:
    found = app.json("findings", "list", "--device", "fracture-xr")
    return next(
        f
        for f in found
        if f["rule"] == "cusum"
        and f["metric"] == "sensitivity"
        and f["subgroup"] == {"scanner_manufacturer": "Fujifilm"}
    )


def test_a_demo_degradation_goes_through_the_whole_review_by_the_cli(
    replayed_demo: Replayed, tmp_path: Path
) -> None:
    app = _Cli(replayed_demo, replayed_demo.copy_url(tmp_path))
    finding = _degradation(app)
    fid = str(finding["id"])
    who = ["--user", "dr.quality", "--comment"]

    refused = app.run("findings", "close", fid, *who, "looks fine")
    assert refused.exit_code == 1
    assert f"finding {fid}: cannot close a finding that is open" in refused.output
    assert "from open: acknowledge" in refused.output and "Traceback" not in refused.output

    assert "is now acknowledged" in app.ok("findings", "ack", fid, *who, "reviewing the misses")

    cases = app.json("findings", "cases", fid, "--discordant", "--queue")
    summary = cases["summary"]
    assert summary["in_metric_discordant"] == len(cases["cases"]) > 3
    assert all(c["status"] == "fn" and c["case_ref"].startswith("case-") for c in cases["cases"])
    queue = app.json("review", "list", "--finding", fid)
    queued = queue["items"]
    assert {i["case_ref"] for i in queued} == {c["case_ref"] for c in cases["cases"]}
    assert {i["finding_id"] for i in queued} == {finding["id"]}
    for item in queued[:3]:
        out = app.ok(
            "review",
            "adjudicate",
            item["case_ref"],
            "--outcome",
            "positive",
            "--user",
            "dr.referent",
            "--comment",
            "fracture visible, missed by the device",
        )
        assert "fn -> fn" in out
    progress = app.json("review", "list", "--device", "fracture-xr", "--status", "all")
    assert progress["counts"]["adjudicated"] == 3

    # The same degradation alarmed in many other slices: one incident in the list.
    listed = app.json("findings", "list", "--device", "fracture-xr")
    incident = [f["id"] for f in listed if f["incident"] == finding["incident"]]
    assert len(incident) > 10
    confirmed = app.ok(
        "findings",
        "confirm",
        fid,
        "--with-related",
        "--user",
        "dr.referent",
        "--comment",
        "3 misses confirmed",
    )
    assert "dismissed with it as the same incident: " in confirmed
    remaining = app.json("findings", "list", "--device", "fracture-xr")
    assert [f["id"] for f in remaining if f["id"] in incident] == [finding["id"]]
    covered = app.json("findings", "list", "--device", "fracture-xr", "--status", "dismissed")
    assert {f["dismissal_reason"] for f in covered} == {"same_root_cause"}
    assert len(covered) == len(incident) - 1
    # The declaration speaks of the whole incident, not of one slice.
    draft_file = tmp_path / "draft.json"
    app.ok(
        "vigilance",
        "draft",
        fid,
        "--lang",
        "fr",
        "--format",
        "json",
        "--out",
        str(draft_file),
        "--user",
        "m.vigilance",
    )
    draft = json.loads(draft_file.read_text(encoding="utf-8"))
    assert sorted(r["id"] for r in draft["related_findings"]) == sorted(f["id"] for f in covered)
    assert any(
        p.startswith(f"La même dégradation a été détectée dans {len(covered)} autre(s)")
        for p in draft["incident_description"]
    )
    acted = app.ok(
        "findings",
        "act",
        fid,
        "--kind",
        "restrict_use",
        "--description",
        "Not used on Fujifilm images until the vendor's fix",
        "--owner",
        "dr.referent",
        "--due",
        "2025-08-15",
        *who,
        "interim measure",
    )
    action_id = acted.split()[1]
    early = app.run("findings", "close", fid, *who, "done")
    assert early.exit_code == 1 and "corrective actions not done" in early.output
    app.ok("findings", "action-done", action_id, "--date", "2025-08-10", *who, "in place")
    assert "is now closed" in app.ok("findings", "close", fid, *who, "fix validated")

    trail = app.json("audit", "list", "--entity", "finding", "--id", fid)
    # (the replay may have escalated it before the review began)
    steps = [(e["action"], e["actor"]) for e in trail if e["action"] != "finding.escalate"]
    assert steps == [
        ("finding.create", "dmn-monitor check"),
        ("finding.acknowledge", "dr.quality"),
        ("finding.confirm", "dr.referent"),
        ("vigilance.draft", "m.vigilance"),
        ("finding.act", "dr.quality"),
        ("finding.action_add", "dr.quality"),
        ("finding.action_done", "dr.quality"),
        ("finding.close", "dr.quality"),
    ]
    assert [e["details"].get("comment") for e in trail if e["action"] == "finding.confirm"] == [
        "3 misses confirmed"
    ]
    adjudications = app.json("audit", "list", "--entity", "case")
    assert [e["actor"] for e in adjudications] == ["dr.referent"] * 3

    shown = app.json("findings", "show", fid)
    assert shown["status"] == "closed" and shown["actions"][0]["done_date"] == "2025-08-10"
    assert [h["action"] for h in shown["history"]] == [e["action"] for e in trail]
    text = app.ok("findings", "show", fid)
    assert "restrict_use" in text and "fix validated" in text

    dismissed = app.run("findings", "dismiss", fid, "--reason", "bored", *who, "x")
    assert dismissed.exit_code == 2 and "'bored' is not one of" in dismissed.output
