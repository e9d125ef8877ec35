"""The device fleet end to end (design §13, "Must show"): 10,000 simulated devices over 3 tiers
poll manifests from the real nginx, report to the real Prometheus, and the audit reads them."""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.devices.test_converge import TIERS, Artifacts, variants
from tests.servers.exporter import Exporter
from tests.servers.fleet import DAY, ERRORS, METRIC, DeviceFleet
from tests.servers.nginx import Nginx
from tests.servers.prometheus import Prometheus
from tests.support.cli import Run, reconciler
from tests.support.configrepo import ConfigRepo, inventory
from tests.support.devicefleet import devices


class World:
    """A config repo whose manifests nginx serves, artifacts on nginx, and a simulated fleet."""

    def __init__(
        self, tmp: Path, nginx: Nginx, exporter: Exporter, prometheus: Prometheus, **target: Any
    ) -> None:
        self.exporter, self.prometheus = exporter, prometheus
        self.platform = uuid.uuid4().hex[:12]
        self.artifacts = Artifacts(tmp / "models", "")
        self.artifacts.base = nginx.serve(self.artifacts.folder)
        self.repo = ConfigRepo(tmp / "config")
        (self.repo.root / "manifests").mkdir()
        self.manifests = nginx.serve(self.repo.root / "manifests")
        query = f'sum by (tier, digest) ({METRIC}{{platform="{self.platform}"}})'
        telemetry = {"prometheus": {"url": prometheus.url}, "query": query}
        rollout = target.pop("rollout", {})
        extra = {"analysis": target.pop("analysis")} if "analysis" in target else {}
        self.repo.write(
            "targets/production.yaml",
            inventory(
                [devices(telemetry=telemetry, channels=["beta", "stable"], **target)],
                rollout={
                    "waves": [
                        {"name": "beta", "targets": ["android"], "channels": ["beta"]},
                        {"name": "stable", "targets": ["android"]},
                    ],
                    **rollout,
                },
                **extra,
            ),
        )
        self.version("v1")
        self.fleet = DeviceFleet(
            lambda channel, tier: f"{self.manifests}support-agent/{channel}/{tier}.json",
            {tier: self.digest(tier) for tier, _ in TIERS},
        )

    def version(self, name: str) -> str:
        """Commit ``name`` (new artifacts for every tier) now, and converge to it."""
        self.repo.bundle(variants=variants(self.artifacts, name))
        sha = self.repo.commit(name, when=dt.datetime.now(dt.UTC))
        self.repo.git("tag", name)
        run = self.reconciler("converge", "--env", "production")
        assert run.code == 0, (run.out, run.err)
        return sha

    def digest(self, tier: str) -> str:
        path = self.repo.root / f"manifests/support-agent/stable/{tier}.json"
        found: str = json.loads(path.read_text())["digest"]
        return found

    def reconciler(self, *args: str) -> Run:
        return reconciler("--repo", self.repo.root, *args)

    def report(self) -> None:
        """Publish the fleet's truth and wait until Prometheus answers with exactly it."""
        self.fleet.publish(self.exporter, {"platform": self.platform})
        truth = {k: float(v) for k, v in self.fleet.truth().items()}
        query = f'sum by (tier, digest) ({METRIC}{{platform="{self.platform}"}})'

        def same(result: list[dict[str, Any]]) -> bool:
            seen = {
                (r["metric"]["tier"], r["metric"]["digest"]): float(r["value"][1]) for r in result
            }
            return seen == truth

        self.prometheus.wait_for(query, same, timeout=15)

    def audit(self) -> dict[str, Any]:
        run = self.reconciler("audit", "--env", "production", "--format", "json")
        assert run.code in (0, 2), run.err
        doc: dict[str, Any] = run.json()
        return doc


@pytest.fixture
def world(tmp_path: Path, nginx: Nginx, exporter: Exporter, prometheus: Prometheus) -> World:
    return World(tmp_path, nginx, exporter, prometheus, adoption={"target": "85%"})


def _shares(audit: dict[str, Any]) -> dict[str, dict[str, float]]:
    (bundle,) = audit["targets"][0]["bundles"]
    return {
        tier: {s["digest"]: s["share"] for s in found}
        for tier, found in bundle["distribution"].items()
    }


def _close(audit: dict[str, Any], truth: dict[str, dict[str, float]]) -> None:
    seen = _shares(audit)
    assert set(seen) == set(truth)
    for tier, found in truth.items():
        assert set(seen[tier]) == set(found), tier
        for digest, share in found.items():
            assert abs(seen[tier][digest] - share) <= 0.01, (
                tier,
                digest,
                seen[tier][digest],
                share,
            )


def _codes(audit: dict[str, Any]) -> list[tuple[str, str]]:
    return sorted((f["code"], f["message"]) for f in audit["findings"])


def test_beta_then_stable_reaches_adoption_and_the_audit_matches_the_truth(world: World) -> None:
    world.fleet.advance(2 * DAY)
    world.version("v2")
    new = {tier: world.digest(tier) for tier, _ in TIERS}
    world.fleet.advance(DAY)
    world.report()
    early = world.audit()
    assert early["targets"][0]["status"] == "lagging"
    _close(early, world.fleet.shares())
    world.fleet.advance(20 * DAY)
    world.report()
    done = world.audit()
    _close(done, world.fleet.shares())
    assert done["targets"][0]["status"] == "in_sync", _codes(done)
    for tier, digest in new.items():
        assert _shares(done)[tier][digest] >= 0.85
    assert not [c for c, _ in _codes(done) if c == "adoption_stalled"]


def test_a_tier_that_stops_adopting_is_stalled_within_one_interval(
    tmp_path: Path, nginx: Nginx, exporter: Exporter, prometheus: Prometheus
) -> None:
    deadline = 4.0
    world = World(
        tmp_path,
        nginx,
        exporter,
        prometheus,
        rollout={"progress_deadline": f"{deadline:g}s"},
    )
    world.version("v2")
    world.fleet.stop_checkins("low")
    world.fleet.advance(DAY)
    world.report()
    stopped = time.monotonic()
    # Polled, not slept: the finding is due once progress_deadline has passed since the
    # condition began; it must come within one more deadline (one interval) after that, plus
    # the time one audit takes on this machine.
    slowest = 0.0
    while True:
        began = time.monotonic()
        audit = world.audit()
        slowest = max(slowest, time.monotonic() - began)
        stalled = [m for c, m in _codes(audit) if c == "adoption_stalled"]
        if stalled or time.monotonic() - stopped > 2 * deadline + slowest + 1:
            break
        world.fleet.advance(DAY / 4)  # the other tiers go on adopting
        world.report()
    assert stalled, _codes(audit)
    assert all("android/low" in m for m in stalled), stalled
    assert time.monotonic() - stopped <= 2 * deadline + slowest + 1


def test_rollback_revokes_and_the_revoked_share_decays(world: World) -> None:
    v1 = world.repo.git("rev-parse", "v1").strip()
    world.version("v2")
    bad = {tier: world.digest(tier) for tier, _ in TIERS}
    world.fleet.advance(3 * DAY)
    run = world.reconciler(
        "rollback", "--env", "production", "--to", v1, "--reason", "dumber on old phones"
    )
    assert run.code == 0, (run.out, run.err)
    world.fleet.advance(DAY)
    world.report()
    first = world.audit()
    _close(first, world.fleet.shares())
    revoked = {m for c, m in _codes(first) if c == "revoked"}
    assert len(revoked) == 3 and all("cannot be forced" in m for m in revoked)
    before = {t: _shares(first)[t].get(bad[t], 0.0) for t, _ in TIERS}
    world.fleet.advance(10 * DAY)
    world.report()
    later = world.audit()
    _close(later, world.fleet.shares())
    after = {t: _shares(later)[t].get(bad[t], 0.0) for t, _ in TIERS}
    for tier, _ in TIERS:
        assert after[tier] < before[tier], (tier, before, after)
        if after[tier] > 0:  # devices that never check in again still run it: it holds
            assert any(f"android/{tier} " in m for c, m in _codes(later) if c == "revoked")


def test_a_tier_scoped_gate_pauses_the_wave_when_only_low_regresses(
    tmp_path: Path, nginx: Nginx, exporter: Exporter, prometheus: Prometheus
) -> None:
    platform = uuid.uuid4().hex[:12]
    gate = {
        "name": "tier-errors",
        "query": f'max({ERRORS}{{platform="{platform}", tier="{{tier}}"}})',
        "max": 0.05,
        "targets": ["android"],
        "on_missing": "pass",  # v1 goes out before the fleet reports anything
    }
    world = World(
        tmp_path,
        nginx,
        exporter,
        prometheus,
        rollout={"analysis": [gate]},
        analysis={"prometheus": {"url": prometheus.url}},
    )
    world.platform = platform
    world.fleet.regress("low", 0.2)
    world.report()
    prometheus.wait_for(f'{ERRORS}{{platform="{platform}", tier="low"}} > 0.1')
    old = {tier: world.digest(tier) for tier, _ in TIERS}
    world.repo.bundle(variants=variants(world.artifacts, "v2"))
    world.repo.commit("v2", when=dt.datetime.now(dt.UTC))
    run = world.reconciler("converge", "--env", "production")
    assert run.code == 2, (run.out, run.err)
    assert "android: beta manifests" in run.out and "stable manifests" not in run.out
    assert "tier-errors on android/beta/low" in run.err, run.err
    assert "android/beta/mid" not in run.err and "android/beta/high" not in run.err
    for tier, _ in TIERS:
        stable = json.loads(
            (world.repo.root / f"manifests/support-agent/stable/{tier}.json").read_text()
        )
        beta = json.loads(
            (world.repo.root / f"manifests/support-agent/beta/{tier}.json").read_text()
        )
        assert stable["digest"] == old[tier] and beta["digest"] != old[tier]
