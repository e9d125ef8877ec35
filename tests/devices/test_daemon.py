"""The daemon shows a devices target (design §13): its audit on ``/status``, the on-call page and
``/metrics`` carries each tier's distribution and the fleet's findings, while its rollout moves
the stores only (a fleet's adoption is observed, never awaited)."""

from __future__ import annotations

from typing import Any

from tests.daemon.support import DaemonProcess
from tests.support.devicefleet import Fleet


def _android(status: dict[str, Any]) -> dict[str, Any] | None:
    return next((t for t in status["targets"] if t["name"] == "android"), None)


def test_the_daemon_shows_each_tiers_distribution(fleet: Fleet) -> None:
    fleet.inventory()
    fleet.serve_all("v47", revoked={"mid": ["v46"]})
    fleet.report_mid_split()
    daemon = DaemonProcess(fleet.repo.root, "--interval", "0.2s")
    try:
        status = daemon.wait_until(lambda s: _android(s) is not None, what="android audited")
        target = _android(status)
        assert target is not None and target["kind"] == "devices"
        (bundle,) = target["bundles"]
        assert bundle["status"] == "lagging", bundle
        mid = bundle["distribution"]["mid"]
        assert [(s["revision"], s["share"], s["devices"]) for s in mid] == [
            (fleet.shas["v47"], 0.62, 62),
            (fleet.shas["v46"], 0.3, 30),
            (None, 0.08, 8),
        ]
        assert [s["share"] for s in bundle["distribution"]["high"]] == [1.0]
        codes = {(f["code"], f.get("target")) for f in status["findings"]}
        assert ("revoked", "android") in codes, status["findings"]
        assert status["summary"]["targets"] == 1
        code, body = daemon.get("/")
        html = body.decode()
        assert code == 200 and html.count('class="fleet"') == 3, html[:2000]
        assert 'class="seg seg-ok" style="width: 62.0%"' in html
        assert 'class="seg seg-bad" style="width: 8.0%"' in html
        lagging = daemon.metric(
            "reconciler_target_status", target="android", bundle="support-agent", status="lagging"
        )
        assert lagging == 1.0
        shares = {
            revision: daemon.metric(
                "reconciler_fleet_share", target="android", tier="mid", revision=revision
            )
            for revision in (fleet.shas["v47"], fleet.shas["v46"], "drifted")
        }
        assert shares == {fleet.shas["v47"]: 0.62, fleet.shas["v46"]: 0.3, "drifted": 0.08}
    finally:
        daemon.terminate()
