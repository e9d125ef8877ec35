"""A device fleet for tests (design §13): a bundle's variants per tier, a ``devices`` target, and
a repo at v45, v46, v47 whose manifests and telemetry (through the session's exporter and the
real Prometheus) a test sets tier by tier."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from reconciler.bundle.tiers import manifest, tier_render
from tests.servers.exporter import Exporter
from tests.servers.prometheus import Prometheus
from tests.support.cli import Run, reconciler
from tests.support.configrepo import T0, ConfigRepo, inventory


def variants(**sha: str) -> dict[str, dict[str, Any]]:
    """Three tiers; ``sha`` overrides a tier's sha256 (hex digit repeated)."""
    made = {}
    for tier, quant, ram in (("high", "q8_0", 8), ("mid", "q4_k_m", 6), ("low", "q4_0", 4)):
        made[tier] = {
            "quant": quant,
            "url": f"https://models.example/l32-3b-{quant}.gguf",
            "sha256": sha.get(tier, "a") * 64,
            "min_ram_gb": ram,
        }
    made["low"]["fallback"] = "cloud"
    return made


#: A devices target's manifests as files, and its telemetry query (``devices()``'s defaults).
MANIFEST = {"type": "file", "path": "manifests/{bundle}/{channel}/{tier}.json"}
TELEMETRY = {
    "prometheus": {"url": "http://127.0.0.1:9090"},
    "query": 'sum by (tier, digest) (agent_active_devices{bundle="{bundle}"})',
}


def devices(**extra: Any) -> dict[str, Any]:
    """The devices target ``android`` (``extra`` overrides or adds keys)."""
    target = {"name": "android", "kind": "devices", "manifest": MANIFEST, "telemetry": TELEMETRY}
    target.update(extra)
    return target


#: The gauge the fleet's telemetry reads: active devices per tier and digest.
METRIC = "agent_active_devices"


class Fleet:
    """A repo at v45, v46, v47 (each moving every tier's artifact), file manifests, and the
    session's exporter publishing active devices under a platform label of its own."""

    def __init__(self, root: Path, exporter: Exporter, prometheus: Prometheus) -> None:
        self.repo = ConfigRepo(root)
        self.exporter, self.prometheus = exporter, prometheus
        self.platform = uuid.uuid4().hex[:12]
        self.shas: dict[str, str] = {}
        for n, (tag, sha) in enumerate((("v45", "1"), ("v46", "2"), ("v47", "3"))):
            self.repo.bundle(variants=variants(high=sha, mid=sha, low=sha))
            self.shas[tag] = self.repo.commit(tag, when=T0.replace(day=T0.day + n))
            self.repo.git("tag", tag)

    def digest(self, tag: str, tier: str) -> str:
        return tier_render(self.repo.render(self.shas[tag]), tier).digest

    def inventory(self, **target: Any) -> None:
        query = (
            f'sum by (tier, digest) ({METRIC}{{platform="{self.platform}", bundle="{{bundle}}"}})'
        )
        telemetry = {"prometheus": {"url": self.prometheus.url}, "query": query}
        self.repo.write(
            "targets/production.yaml", inventory([devices(telemetry=telemetry, **target)])
        )

    def serve(self, tag: str, tier: str, revoked: list[str] | None = None) -> None:
        doc = manifest(
            self.repo.render(self.shas[tag]),
            tier,
            "stable",
            revoked=[self.digest(t, tier) for t in revoked or []],
        )
        self.repo.write(f"manifests/support-agent/stable/{tier}.json", doc)

    def serve_all(self, tag: str, revoked: dict[str, list[str]] | None = None) -> None:
        """Every tier's manifest at ``tag``; ``revoked`` by tier: the tags each one revokes."""
        for tier in ("high", "mid", "low"):
            self.serve(tag, tier, revoked=(revoked or {}).get(tier, []))

    def report_mid_split(self, low: str = "v47") -> None:
        """high: 10 devices on v47; mid: 62 on v47, 30 on v46, 8 on a digest no revision has
        (drifted); low: 5 on ``low``."""
        d = self.digest
        self.report(
            {
                ("high", d("v47", "high")): 10,
                ("mid", d("v47", "mid")): 62,
                ("mid", d("v46", "mid")): 30,
                ("mid", "sha256:" + "e" * 64): 8,
                ("low", d(low, "low")): 5,
            }
        )

    def report(self, counts: dict[tuple[str, str], int]) -> None:
        """Publish active devices per (tier, digest) and wait until Prometheus has them."""
        for (tier, digest), value in counts.items():
            labels = {"platform": self.platform, "bundle": "support-agent"}
            self.exporter.set(METRIC, {**labels, "tier": tier, "digest": digest}, value)
        total = sum(counts.values())
        self.prometheus.wait_for(
            f'sum({METRIC}{{platform="{self.platform}"}})',
            lambda r: bool(r) and float(r[0]["value"][1]) == total,
        )

    def audit(self, *args: str) -> Run:
        return reconciler("--repo", self.repo.root, "audit", "--env", "production", *args)
