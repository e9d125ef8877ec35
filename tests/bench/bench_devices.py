"""Benchmark: device fleets (design §13), two figures, one run, on this machine.

1. The audit of one devices target with 3 tiers x 20 digests (a repo of 20 revisions, each moving
   every tier's artifact; file manifests; a real Prometheus scraping an exporter that reports
   60 series), in process and warm (the history cache filled by a first audit), against the
   Prometheus query's own time in the same run (the same instant query over HTTP, urllib).
   Goal: <= 1.2x. The devices part alone (both telemetry queries, the manifests, the judgement)
   is printed too, beside the whole audit (inventory, git snapshot and tags included).
2. The fleet simulator (tests/servers/fleet.py): 10,000 devices over 3 tiers for a simulated week
   (hourly ticks), polling their manifests from a real nginx. Goal: <= 30 s.

Each timing is the median of 7 runs. Run: ``.venv/bin/python -m tests.bench.bench_devices``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import statistics
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np

from reconciler.audit.auditor import Auditor
from reconciler.audit.devices import judge_target, read_devices
from reconciler.bundle.gitrepo import GitFiles, GitRepo
from reconciler.bundle.render import render
from reconciler.bundle.snapshot import snapshot
from reconciler.bundle.tiers import manifest, tier_render
from reconciler.config.inventory import load_inventory
from reconciler.sources.registry import SourceContext
from reconciler.statedir import cache_dir
from tests.servers.exporter import running_exporter
from tests.servers.fleet import DAY, METRIC, DeviceFleet
from tests.servers.nginx import running_nginx
from tests.servers.prometheus import running_prometheus
from tests.support.configrepo import T0, ConfigRepo, inventory

TIERS = ("high", "mid", "low")
REVISIONS = 20
RUNS = 7
AUDIT_GOAL = 1.2
SIM_GOAL_S = 30.0


def _variants(n: int) -> dict[str, dict[str, object]]:
    return {
        tier: {
            "quant": f"q{i}",
            "url": f"https://models.example/{tier}-{n}.gguf",
            "sha256": f"{n:02x}{i:02x}".ljust(64, "0"),
        }
        for i, tier in enumerate(TIERS)
    }


def build(root: Path, prometheus_url: str) -> tuple[ConfigRepo, dict[tuple[str, str], int]]:
    repo = ConfigRepo(root)
    shas = []
    for n in range(REVISIONS):
        repo.bundle(variants=_variants(n))
        shas.append(repo.commit(f"v{n}", when=T0 + dt.timedelta(hours=n)))
    git = GitRepo(repo.root)
    rng = np.random.default_rng(3)
    counts: dict[tuple[str, str], int] = {}
    for n, sha in enumerate(shas):
        done = render(GitFiles(git, sha), "support-agent", sha)
        for tier in TIERS:
            counts[(tier, tier_render(done, tier).digest)] = int(rng.integers(10, 5000))
            if n == REVISIONS - 1:
                doc = manifest(done, tier, "stable")
                repo.write(f"manifests/support-agent/stable/{tier}.json", json.dumps(doc))
    git.close()
    query = f'sum by (tier, digest) ({METRIC}{{platform="bench"}})'
    target = {
        "name": "android",
        "kind": "devices",
        "manifest": {"type": "file", "path": "manifests/{bundle}/{channel}/{tier}.json"},
        "telemetry": {"prometheus": {"url": prometheus_url}, "query": query},
    }
    repo.write("targets/production.yaml", inventory([target]))
    repo.commit("inventory", when=T0 + dt.timedelta(days=2))
    return repo, counts


def median_ms(run: object, runs: int = RUNS) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        run()  # type: ignore[operator]
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def audit_figure(base: Path) -> None:
    with running_exporter() as exporter, running_prometheus([exporter.target]) as prometheus:
        repo, counts = build(base / "config", prometheus.url)
        for (tier, digest), n in counts.items():
            exporter.set(METRIC, {"platform": "bench", "tier": tier, "digest": digest}, n)
        total = sum(counts.values())
        prometheus.wait_for(
            f'sum({METRIC}{{platform="bench"}})',
            lambda r: bool(r) and float(r[0]["value"][1]) == total,
            timeout=30,
        )
        query = f'sum by (tier, digest) ({METRIC}{{platform="bench"}})'
        url = f"{prometheus.url}/api/v1/query?" + urllib.parse.urlencode({"query": query})

        def ask() -> None:
            with urllib.request.urlopen(url, timeout=10) as answer:
                assert len(json.loads(answer.read())["data"]["result"]) == len(counts)

        def ask_async() -> None:  # the floor of any asyncio client: a loop and a session
            import aiohttp

            async def go() -> None:
                async with aiohttp.ClientSession() as session, session.get(url) as answer:
                    assert answer.status == 200
                    await answer.read()

            asyncio.run(go())

        auditor = Auditor(repo.root, "production")
        first = time.perf_counter()
        audit = auditor.run()
        cold_ms = (time.perf_counter() - first) * 1000
        (bundle,) = audit.targets[0].bundles
        assert bundle.distribution is not None
        assert sum(len(v) for v in bundle.distribution.values()) == len(counts)
        assert all(s.revision is not None for v in bundle.distribution.values() for s in v)
        inv = load_inventory(repo.root, "production")
        git = snapshot(repo.root, None, cache_dir(repo.root) / "history.json")
        histories = {"support-agent": git.history("support-agent")}
        declared = {"support-agent": list(TIERS)}

        def devices_part() -> None:
            async def read() -> object:
                ctx = SourceContext(repo_root=repo.root, env=dict(os.environ))
                try:
                    return await read_devices(
                        inv.targets, inv.bundles, declared, ctx, "production", time.time() - 900
                    )
                finally:
                    await ctx.close()

            reads = asyncio.run(read())
            judge_target(inv.targets[0], inv, reads, histories, {}, time.time())  # type: ignore[arg-type]

        query_ms = median_ms(ask)
        part_ms = median_ms(devices_part)
        whole_ms = median_ms(auditor.run)
        query_ms = statistics.median([query_ms, median_ms(ask)])  # before and after, same run
        floor_ms = median_ms(ask_async)
        print(f"devices audit: 1 target, {len(TIERS)} tiers x {REVISIONS} digests")
        print(f"  load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        print(f"  the Prometheus query alone:        {query_ms:7.1f} ms")
        print(f"  the same, asyncio + aiohttp (new loop and session): {floor_ms:7.1f} ms")
        print(
            f"  the devices part (2 queries, manifests, judgement): {part_ms:7.1f} ms "
            f"({part_ms / query_ms:.2f}x; goal <= {AUDIT_GOAL}x)"
        )
        print(
            f"  the whole audit, warm, in process: {whole_ms:7.1f} ms "
            f"({whole_ms / query_ms:.2f}x); first (cold history): {cold_ms:.0f} ms"
        )


def simulator_figure(base: Path) -> None:
    folder = base / "manifests"
    for tier in TIERS:
        (folder / "stable").mkdir(parents=True, exist_ok=True)
        (folder / "beta").mkdir(parents=True, exist_ok=True)
        for channel in ("beta", "stable"):
            doc = {"digest": f"sha256:{tier}-new"}
            (folder / channel / f"{tier}.json").write_text(json.dumps(doc))
    with running_nginx(base / "nginx", latency_ms=0) as nginx:
        served = nginx.serve(folder)
        times, adopted, fetches = [], 0.0, 0
        for seed in range(3):
            fleet = DeviceFleet(
                lambda channel, tier: f"{served}{channel}/{tier}.json",
                {tier: f"sha256:{tier}-old" for tier in TIERS},
                seed=seed,
            )
            start = time.perf_counter()
            fleet.advance(7 * DAY)
            times.append(time.perf_counter() - start)
            truth = fleet.truth()
            adopted = sum(n for (t, d), n in truth.items() if d.endswith("-new")) / 10_000
            fetches = fleet.fetches
        took = statistics.median(times)
        print("fleet simulator: 10,000 devices, 3 tiers, 2 channels, a simulated week (hourly)")
        print(
            f"  {took:.2f} s (median of 3; goal <= {SIM_GOAL_S:.0f} s); {fetches} manifest "
            f"fetches from nginx; {adopted:.0%} adopted after the week"
        )


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-devices-") as tmp:
        base = Path(tmp)
        audit_figure(base / "audit")
        simulator_figure(base / "sim")


if __name__ == "__main__":
    main()
