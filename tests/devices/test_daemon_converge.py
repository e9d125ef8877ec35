"""The daemon converges a devices target (design §13): a new desired revision's manifests are
switched wave by channel (beta, its bake timed by the daemon's clock, then stable), the audit
on ``/status`` shows the fleet's distribution, and a wrong artifact sha256 pauses the waves
loudly with nothing switched."""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.daemon.support import DaemonProcess, Remote
from tests.devices.test_converge import TIERS, Artifacts, variants
from tests.servers.exporter import Exporter
from tests.servers.nginx import Nginx
from tests.servers.prometheus import Prometheus
from tests.support.configrepo import T0, inventory
from tests.support.devicefleet import devices

METRIC = "agent_active_devices"


def _served(root: Path) -> dict[tuple[str, str], str]:
    found = {}
    for channel in ("beta", "stable"):
        for tier, _ in TIERS:
            path = root / f"manifests/support-agent/{channel}/{tier}.json"
            if path.exists():
                found[(channel, tier)] = json.loads(path.read_text())["revision"]
    return found


def _until(check: Callable[[], bool], daemon: DaemonProcess, what: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if check():
            return
        assert daemon.proc.poll() is None, daemon.lines[-5:]
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}: {daemon.lines[-5:]}")


def test_the_daemon_switches_a_new_revisions_manifests_by_channel(
    tmp_path: Path, nginx: Nginx, exporter: Exporter, prometheus: Prometheus
) -> None:
    folder = tmp_path / "models"
    artifacts = Artifacts(folder, nginx.serve(folder))
    platform = uuid.uuid4().hex[:12]
    query = f'sum by (tier, digest) ({METRIC}{{platform="{platform}", bundle="{{bundle}}"}})'
    telemetry = {"prometheus": {"url": prometheus.url}, "query": query}
    remote = Remote(tmp_path)
    author = remote.author
    author.bundle(variants=variants(artifacts, "v1"))
    waves = [
        {"name": "beta", "targets": ["android"], "channels": ["beta"], "bake": "1s"},
        {"name": "stable", "targets": ["android"]},
    ]
    target = devices(channels=["beta", "stable"], telemetry=telemetry)
    author.write("targets/production.yaml", inventory([target], rollout={"waves": waves}))
    author.write(".gitignore", "manifests/\n")
    author.commit("v1")
    v1 = remote.push()
    user = remote.clone_user()
    daemon = DaemonProcess(user, "--interval", "0.1s")
    try:
        every = {(c, t) for c in ("beta", "stable") for t, _ in TIERS}
        _until(lambda: _served(user) == dict.fromkeys(every, v1), daemon, "v1 served")
        author.bundle(variants=variants(artifacts, "v2"))
        author.commit("v2", when=T0.replace(day=T0.day + 1))
        v2 = remote.push()
        # A group of manifests is switched file by file, in a few milliseconds: wait for the
        # whole of beta before looking at stable (a read between two renames sees both).
        beta = {("beta", t): v2 for t, _ in TIERS}
        _until(
            lambda: {k: r for k, r in _served(user).items() if k[0] == "beta"} == beta,
            daemon,
            "v2's first switch",
        )
        first = _served(user)
        # beta first; stable waits out beta's bake (1s) on the daemon's clock
        assert {r for k, r in first.items() if k[0] == "stable"} == {v1}, first
        _until(lambda: _served(user) == dict.fromkeys(every, v2), daemon, "v2 served")
        digests = {
            t: json.loads((user / f"manifests/support-agent/stable/{t}.json").read_text())["digest"]
            for t, _ in TIERS
        }
        for tier, digest in digests.items():
            labels = {"platform": platform, "bundle": "support-agent", "tier": tier}
            exporter.set(METRIC, {**labels, "digest": digest}, 40)
        exporter.set(
            METRIC,
            {
                "platform": platform,
                "bundle": "support-agent",
                "tier": "mid",
                "digest": "sha256:" + "e" * 64,
            },
            10,
        )
        prometheus.wait_for(
            f'sum({METRIC}{{platform="{platform}"}})',
            lambda r: bool(r) and float(r[0]["value"][1]) == 130,
        )

        def shown(status: dict[str, Any]) -> bool:
            found = [t for t in status["targets"] if t["name"] == "android"]
            dist = found[0]["bundles"][0].get("distribution") if found else None
            return (
                bool(dist)
                and status["desired"]["revision"] == v2
                and "mid" in dist
                and len(dist["mid"]) == 2
            )

        status = daemon.wait_until(shown, what="the distribution on /status")
        (android,) = [t for t in status["targets"] if t["name"] == "android"]
        mid = android["bundles"][0]["distribution"]["mid"]
        assert [(s["revision"], s["share"]) for s in mid] == [(v2, 0.8), (None, 0.2)], mid
        assert android["status"] == "lagging"  # 80% < the 90% adoption target

        # a wrong sha256: nothing of the target switches, and the daemon says why
        bad = variants(artifacts, "v3", sidecar=False)
        stated = "0" * 64
        bad["mid"]["sha256"] = stated
        author.bundle(variants=bad)
        author.commit("v3 with a wrong mid sha256", when=T0.replace(day=T0.day + 2))
        remote.push()
        actual = hashlib.sha256(b"v3 mid").hexdigest()

        def said() -> bool:
            return any(
                line.get("event") == "apply_failed"
                and "tier mid" in str(line.get("error"))
                and f"stated sha256 {stated}" in str(line.get("error"))
                and f"actual {actual}" in str(line.get("error"))
                and bad["mid"]["url"] in str(line.get("error"))
                for line in daemon.lines
            )

        _until(said, daemon, "the artifact mismatch said")
        assert _served(user) == dict.fromkeys(every, v2)
    finally:
        daemon.terminate()
        exporter.remove(METRIC)
