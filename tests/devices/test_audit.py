"""The audit of a devices target against the real Prometheus (design §13): one instant query,
each tier's digests mapped to revisions, the distribution in text and JSON, and the findings."""

from __future__ import annotations

import json

from tests.support.cli import reconciler
from tests.support.configrepo import inventory
from tests.support.devicefleet import METRIC, Fleet, devices


def test_the_audit_reports_each_tiers_distribution(fleet: Fleet) -> None:
    fleet.inventory(min_supported="v46")
    fleet.serve_all("v47", revoked={"mid": ["v46"]})
    d = fleet.digest
    fleet.report(
        {
            ("high", d("v47", "high")): 100,
            ("mid", d("v47", "mid")): 620,
            ("mid", d("v46", "mid")): 300,
            ("mid", "sha256:" + "f" * 64): 80,
            ("low", d("v47", "low")): 950,
            ("low", d("v45", "low")): 50,
            ("xl", d("v47", "high")): 12,
        }
    )
    run = fleet.audit("--format", "json")
    assert run.code == 0, run.err  # lagging alone fails nothing by default
    (target,) = run.json()["targets"]
    (bundle,) = target["bundles"]
    assert target["kind"] == "devices" and bundle["status"] == "lagging"
    dist = bundle["distribution"]
    assert dist["mid"] == [
        {"digest": d("v47", "mid"), "revision": fleet.shas["v47"], "share": 0.62, "devices": 620},
        {"digest": d("v46", "mid"), "revision": fleet.shas["v46"], "share": 0.3, "devices": 300},
        {"digest": "sha256:" + "f" * 64, "revision": None, "share": 0.08, "devices": 80},
    ]
    assert [s["share"] for s in dist["high"]] == [1.0]
    assert [(s["revision"], s["devices"]) for s in dist["low"]] == [
        (fleet.shas["v47"], 950),
        (fleet.shas["v45"], 50),
    ]
    codes = sorted((f["code"], f["level"]) for f in run.json()["findings"])
    # mid's manifest switched when v47 landed, more than adoption.within (7d) ago
    assert codes == [
        ("adoption_stalled", "error"),
        ("revoked", "error"),
        ("undeclared_tier", "warning"),
        ("unsupported", "warning"),
    ]
    text = fleet.audit()
    assert "android/mid: 62% v47" in text.out and "30% v46" in text.out, text.out
    assert "8% drifted" in text.out
    assert "30.0% of android/mid (300 devices) still run revoked v46;" in text.out
    markdown = fleet.audit("--format", "markdown").out  # a PR comment or a job summary too
    fleets = markdown[markdown.index("### Device fleets") :].splitlines()
    assert "- android/mid: 62% v47, 30% v46, 8% drifted" in fleets, markdown
    failing = fleet.audit("--fail-on", "revoked")
    assert failing.code == 2, failing.out
    for code in (
        "adoption_stalled",
        "unsupported",
        "undeclared_tier",
    ):  # each nameable in --fail-on
        failing = fleet.audit("--fail-on", code)
        assert failing.code == 2, (code, failing.out, failing.err)


def test_every_tier_at_target_is_in_sync_prometheus_down_unreachable_and_a_bad_query_invalid(
    fleet: Fleet,
) -> None:
    fleet.inventory(adoption={"target": "90%"})
    d = fleet.digest
    fleet.report(
        {
            ("high", d("v47", "high")): 90,
            ("high", d("v46", "high")): 10,
            ("mid", d("v47", "mid")): 1,
            ("low", d("v47", "low")): 5,
        }
    )
    run = fleet.audit("--format", "json")
    assert run.json()["targets"][0]["status"] == "in_sync", run.out
    telemetry = {"prometheus": {"url": "http://127.0.0.1:1"}, "query": "up"}
    fleet.repo.write("targets/production.yaml", inventory([devices(telemetry=telemetry)]))
    down = fleet.audit("--format", "json")
    assert down.code == 2
    (target,) = down.json()["targets"]
    assert target["status"] == "unreachable" and "telemetry" in target["error"]
    # series without the tier and digest labels: the target's telemetry is wrong, not out of reach
    query = f'sum({METRIC}{{platform="{fleet.platform}"}})'
    telemetry = {"prometheus": {"url": fleet.prometheus.url}, "query": query}
    fleet.repo.write("targets/production.yaml", inventory([devices(telemetry=telemetry)]))
    wrong = fleet.audit("--format", "json")
    assert wrong.code == 2
    (target,) = wrong.json()["targets"]
    assert target["status"] == "invalid", target
    assert "series need `tier` and `digest` labels" in target["error"]


def test_manifests_are_the_contract_document(fleet: Fleet) -> None:
    fleet.serve("v47", "mid", revoked=["v46"])
    doc = json.loads((fleet.repo.root / "manifests/support-agent/stable/mid.json").read_text())
    assert doc["schema"] == "agent-reconciler.device-manifest/v1"
    assert doc["digest"] == fleet.digest("v47", "mid") and doc["revision"] == fleet.shas["v47"]
    assert doc["model"]["quant"] == "q4_k_m" and list(doc["components"]["model"]["variants"]) == [
        "mid"
    ]
    assert doc["revoked"] == [fleet.digest("v46", "mid")]


def test_skew_and_the_page_draw_a_bar_per_tier(fleet: Fleet) -> None:
    from reconciler.audit.auditor import Auditor
    from reconciler.page import OnCallPage

    fleet.inventory()
    fleet.serve_all("v47")
    fleet.report_mid_split(low="v45")
    skew = reconciler("--repo", fleet.repo.root, "skew", "--env", "production")
    lines = [line for line in skew.out.splitlines() if line.startswith("android/")]
    assert [line.split()[0] for line in lines] == ["android/high", "android/low", "android/mid"]
    mid = lines[2]
    assert "█" in mid and mid.endswith("62% v47, 30% v46, 8% drifted"), mid
    assert lines[1].endswith("100% v45"), lines[1]
    audit = Auditor(fleet.repo.root, "production").run()
    page = OnCallPage("production", interval=30)
    page.publish(audit, {}, repo=fleet.repo.root)
    status, body, _ = page.respond("/", {})
    html = body.decode()
    assert status == 200
    assert html.count('class="fleet"') == 3
    assert 'class="seg seg-ok" style="width: 62.0%"' in html
    assert 'class="seg seg-warn" style="width: 30.0%"' in html
    assert 'class="seg seg-bad" style="width: 8.0%"' in html
