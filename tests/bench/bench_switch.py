"""Benchmark: staged delivery (design §12), in one run, goals beside.

1. The torn window of a three-part group — an S3 region store (moto), an MLflow prompt registry
   and an nginx POP switched by WebDAV COPY — over 200 switches between two staged digests,
   measured by the real :class:`~reconciler.rollout.switching.Switcher` (first switch request to
   last acknowledgement). Goal: p99 <= 50 ms.
2. ``rollback`` of 1,000 staged HTTP targets (nginx, ``switch: copy``) against a bare aiohttp loop
   of the same switch calls (COPY of the staged copy, then the GET that verifies it; 256
   workers, one session). Goal: <= 1.2x.

Run: ``.venv/bin/python -m tests.bench.bench_switch [switches] [targets]``.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import boto3

from reconciler.config.inventory import load_inventory
from reconciler.rollout import commands
from reconciler.rollout.act import Documents
from reconciler.rollout.driver import Driver
from reconciler.rollout.switching import Group, GroupOutcome, Part, Switcher
from reconciler.sources.registry import SourceContext, open_source
from reconciler.sources.staging import digest_hex
from reconciler.state import open_store
from tests.backends.mlflow.server import running_mlflow
from tests.backends.s3.server import running_moto
from tests.bench.bench_audit import POLICY
from tests.servers.nginx import Nginx, running_nginx
from tests.support.configrepo import ConfigRepo, inventory

WORKERS = 256
ROUNDS = 3
AWS = {
    "AWS_ACCESS_KEY_ID": "AKIABENCHSWITCH00001",
    "AWS_SECRET_ACCESS_KEY": "bench-switch-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def _two_releases(repo: ConfigRepo) -> tuple[str, str]:
    repo.bundle(prompt="v1\n\n" + POLICY + "\n")
    v1 = repo.commit("v1")
    repo.bundle(prompt="v2\n\n" + POLICY + "\n")
    return v1, repo.commit("v2")


# -- 1. the torn window of one group ---------------------------------------------------------


def torn_window(
    base: Path, nginx: Nginx, switches: int
) -> tuple[list[float], dict[str, list[float]]]:
    for server in ("moto", "mlflow"):
        (base / server).mkdir()
    with running_moto(base / "moto") as moto, running_mlflow(base / "mlflow") as mlflow:
        boto3.client("s3", endpoint_url=moto.url).create_bucket(Bucket="bench-switch")
        repo = ConfigRepo(base / "group")
        dav = nginx.url("dav/bench-group/{bundle}.json")
        targets = [
            {
                "name": "store",
                "group": "g",
                "source": {
                    "type": "s3",
                    "bucket": "bench-switch",
                    "key": "{bundle}.json",
                    "endpoint_url": moto.url,
                },
            },
            {"name": "prompts", "group": "g", "source": {"type": "mlflow", "url": mlflow.url}},
            {
                "name": "pop",
                "group": "g",
                "source": {
                    "type": "http",
                    "url": dav,
                    "stage_url": dav + ".staged/{digest_hex}.json",
                    "switch": "copy",
                },
            },
        ]
        repo.write("targets/production.yaml", inventory(targets))
        v1, v2 = _two_releases(repo)
        specs = load_inventory(repo.root, "production").targets
        documents = Documents(repo.root)
        names = [t.name for t in specs]
        docs = {sha: documents.for_targets("support-agent", sha, names) for sha in (v1, v2)}
        groups = {
            sha: Group("g", [Part(spec, docs[sha][spec.name]) for spec in specs])
            for sha in (v1, v2)
        }

        async def run() -> tuple[list[float], dict[str, list[float]]]:
            async with SourceContext(repo.root, dict(os.environ)) as ctx:
                switcher = Switcher(ctx, open_source)
                for group in groups.values():
                    staged = await switcher.stage_group("support-agent", group)
                    assert staged.outcome == "ready", staged.reason
                windows = []
                for n in range(switches):
                    group = groups[v1 if n % 2 else v2]
                    outcome = GroupOutcome("g", names, "ready")
                    await switcher.switch_group("support-agent", group, outcome)
                    assert outcome.outcome == "switched", outcome.reason
                    assert outcome.torn_seconds is not None
                    windows.append(outcome.torn_seconds)
                # Each part's switch alone, one after the other: the floor of any window.
                alone: dict[str, list[float]] = {name: [] for name in names}
                for n in range(max(switches // 4, 2)):
                    for part in groups[v1 if n % 2 else v2].parts:
                        started = time.perf_counter()
                        await switcher._switch("support-agent", part, part.document)
                        alone[part.name].append(time.perf_counter() - started)
                return windows, alone

        return asyncio.run(run())


# -- 2. rollback of staged targets against the bare switch loop --------------------------------


async def _switch_loop(pairs: list[tuple[str, str]]) -> None:
    """COPY each staged URL onto its serving URL, then GET it back (the verifying fetch)."""
    pending = iter(pairs)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=WORKERS)) as session:

        async def worker() -> None:
            for staged, url in pending:
                headers = {"Destination": url, "Overwrite": "T"}
                async with session.request("COPY", staged, headers=headers) as response:
                    await response.read()
                async with session.get(url) as response:
                    await response.read()

        await asyncio.gather(*(worker() for _ in range(WORKERS)))


def rollback_ratio(base: Path, nginx: Nginx, count: int) -> tuple[float, float]:
    repo = ConfigRepo(base / "fleet")
    urls = [nginx.url(f"dav/bench-fleet/t{i}/support-agent.json") for i in range(count)]
    targets = [
        {
            "name": f"t{i}",
            "kind": "region",
            "source": {
                "type": "http",
                "url": url,
                "stage_url": url + ".staged/{digest_hex}.json",
                "switch": "copy",
            },
        }
        for i, url in enumerate(urls)
    ]
    repo.write("targets/production.yaml", inventory(targets))
    v1, v2 = _two_releases(repo)
    hexes = {}
    for sha in (v1, v2):  # stage and switch both releases the way converge does
        driver = Driver(repo.root, "production", open_store(repo.root), environ={}, revision=sha)
        code, _ = commands.converge(driver, 300, poll=0.05)
        driver.store.close()
        assert code == 0, f"converge of {sha[:7]} did not complete"
        rendered = Documents(repo.root).for_targets("support-agent", sha, ["t0"])["t0"]
        hexes[sha] = digest_hex(rendered)
    back = [(f"{u}.staged/{hexes[v1]}.json", u) for u in urls]
    again = [(f"{u}.staged/{hexes[v2]}.json", u) for u in urls]
    floors, rollbacks = [], []
    for _ in range(ROUNDS):
        gc.collect()
        started = time.perf_counter()
        asyncio.run(_switch_loop(back))
        floors.append(time.perf_counter() - started)
        asyncio.run(_switch_loop(again))  # everyone on v2 again
        (repo.root / ".reconciler" / "state.db").unlink(missing_ok=True)
        driver = Driver(repo.root, "production", open_store(repo.root), environ={})
        gc.collect()
        started = time.perf_counter()
        done = commands.rollback(driver, v1)
        rollbacks.append(time.perf_counter() - started)
        driver.store.close()
        assert done.code == 0 and len(done.switched) == count and not done.fallback, done
        asyncio.run(_switch_loop(again))
    return statistics.median(floors), statistics.median(rollbacks)


def main() -> None:
    switches = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    os.environ.update(AWS)
    with tempfile.TemporaryDirectory(prefix="bench-switch-") as tmp:
        base = Path(tmp)
        with running_nginx(base / "nginx") as nginx:
            windows, alone = torn_window(base, nginx, switches)
            ordered = sorted(windows)
            p50 = statistics.median(ordered) * 1000
            p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
            print(
                f"torn window, 3-part group (moto S3 CopyObject, MLflow alias, nginx COPY), "
                f"{switches} switches: p50 {p50:.1f} ms, p99 {p99:.1f} ms, max "
                f"{ordered[-1] * 1000:.1f} ms (goal p99 <= 50 ms)"
            )
            parts = ", ".join(
                f"{name} {statistics.median(times) * 1000:.1f} ms" for name, times in alone.items()
            )
            print(f"  each part's switch alone (p50): {parts}")
            floor, ours = rollback_ratio(base, nginx, count)
            print(
                f"rollback of {count} staged targets {ours:.3f} s; bare COPY+GET loop "
                f"{floor:.3f} s; ratio {ours / floor:.2f}x (goal <= 1.2x)"
            )
            print(json.dumps({"torn_p99_ms": round(p99, 1), "rollback_ratio": ours / floor}))


if __name__ == "__main__":
    main()
