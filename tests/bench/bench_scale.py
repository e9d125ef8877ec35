"""Benchmark: 5k to 50k HTTP targets over 10 environments and 3 daemons on PostgreSQL.

A real nginx on 127.0.0.1 serves one ~20 KB rendered bundle at every target's URL (hard links of
one file), a PostgreSQL cluster of the run's own holds the state, and three real ``reconciler
daemon --env '*' --max-environments 4`` processes share it: each leads some environments and
audits the others read-only. Per size it prints, from the daemons' own step logs, one audit
cycle's wall time per environment, the per-target cost, the time in state writes per step and
its share of the step, and each daemon's peak RSS (VmHWM) after 3 cycles — each figure beside
its goal. Absolute times on a shared 2-core machine mean little; the ratios are the figures.

Run: ``make bench`` (or ``.venv/bin/python -m tests.bench.bench_scale [--quick]
[--sizes 5000,50000]``).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.bench.bench_audit import build_repo
from tests.bench.daemon import Daemon
from tests.servers.nginx import running_nginx
from tests.servers.postgres import running_postgres

ENVIRONMENTS = 10
DAEMONS = 3
CYCLES = 3
INTERVAL = "2s"


def cycles(daemon: Daemon) -> int:
    """Steps the daemon has logged in every environment (0 until it has seen them all)."""
    per_env: dict[str, int] = {}
    for s in daemon.steps:
        per_env[s["environment"]] = per_env.get(s["environment"], 0) + 1
    return min(per_env.values()) if len(per_env) == ENVIRONMENTS else 0


def _inventory(env: str, base: str, count: int) -> str:
    targets = [
        {"name": f"{env}-t{i}", "source": {"type": "http", "url": f"{base}/{env}/{i}.json"}}
        for i in range(count)
    ]
    doc = {
        "environment": env,
        "bundles": ["support-agent"],
        "targets": targets,
        "rollout": {"waves": [{"name": "all", "targets": ["*"]}]},
    }
    return json.dumps(doc, indent=1) + "\n"


def run_size(total: int, work: Path) -> dict[str, Any]:
    per_env = total // ENVIRONMENTS
    repo, body, _ = build_repo(work / "config")
    with running_postgres() as pg, running_nginx(work / "nginx") as nginx:
        url = pg.create_database("scale")
        www = nginx.root / "fleet"
        (www).mkdir(parents=True, exist_ok=True)
        source = www / "doc.json"
        source.write_bytes(body)
        for e in range(ENVIRONMENTS):
            env = f"env{e:02d}"
            folder = www / env
            folder.mkdir()
            for i in range(per_env):
                os.link(source, folder / f"{i}.json")
            repo.write(
                f"targets/{env}.yaml", _inventory(env, nginx.url("fleet").rstrip("/"), per_env)
            )
        repo.commit("inventories")
        origin = work / "origin.git"
        subprocess.run(["git", "clone", "-q", "--bare", str(repo.root), str(origin)], check=True)
        daemons = []
        for number in range(DAEMONS):
            clone = work / f"daemon{number}"
            subprocess.run(["git", "clone", "-q", str(origin), str(clone)], check=True)
            daemons.append(
                Daemon(clone, "--env", "*", "--max-environments", "4", "--interval", INTERVAL,
                       "--state", url)
            )  # fmt: skip
        try:
            deadline = time.monotonic() + 1800
            while min(cycles(d) for d in daemons) < CYCLES:
                if time.monotonic() > deadline:
                    raise SystemExit(f"{total}: fewer than {CYCLES} cycles in 30 min")
                if any(d.proc.poll() is not None for d in daemons):
                    raise SystemExit(f"{total}: a daemon exited: {[d.problems for d in daemons]}")
                time.sleep(0.5)
            rss = [d.memory_kb()["VmHWM"] / 1024 for d in daemons]
        finally:
            for d in daemons:
                d.stop()
    steps = [s for d in daemons for s in d.steps if s.get("targets") == per_env]
    steady = steps[ENVIRONMENTS:] or steps  # the first cycle also parses the inventories
    seconds = statistics.median(s["seconds"] for s in steady)
    writes = statistics.median(s["state_seconds"] for s in steady)
    leader = [s for s in steady if s.get("role") == "leader"] or steady
    share = statistics.median(s["state_seconds"] / s["seconds"] for s in leader if s["seconds"])
    return {
        "total": total,
        "per_env": per_env,
        "cycle": seconds,
        "per_target_us": seconds / per_env * 1e6,
        "state": writes,
        "share": share,
        "rss": rss,
    }


def main() -> None:
    quick = "--quick" in sys.argv
    sizes = [5000, 10000] if quick else [5000, 10000, 25000, 50000]
    if "--sizes" in sys.argv:  # e.g. 5000,50000: the first is the base the others are held to
        sizes = [int(n) for n in sys.argv[sys.argv.index("--sizes") + 1].split(",")]
    rows = []
    for total in sizes:
        with tempfile.TemporaryDirectory(prefix=f"bench-scale-{total}-") as tmp:
            rows.append(run_size(total, Path(tmp)))
            r = rows[-1]
            print(
                f"{r['total']:>6} targets: one audit cycle per environment {r['cycle']:.2f} s "
                f"({r['per_env']} targets, {r['per_target_us']:.0f} us/target); state writes "
                f"{r['state'] * 1000:.1f} ms per step ({r['share']:.1%} of a leader's step); "
                f"peak RSS {', '.join(f'{x:.0f}' for x in r['rss'])} MB",
                flush=True,
            )
    base = rows[0]
    print("\nscale (3 daemons, 10 environments, PostgreSQL), goals beside each figure:")
    print(
        "| targets | cycle/env | us/target | vs 5k (goal <= 1.2x) | state/step "
        "| share (goal <= 10%) | peak RSS per daemon | MB per 5k held (goal <= 150) |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |")
    for r in rows:
        ratio = r["per_target_us"] / base["per_target_us"]
        held = r["total"] / 5000  # every daemon audits every environment (leads or follows)
        per_5k = max(r["rss"]) / held
        print(
            f"| {r['total']} | {r['cycle']:.2f} s | {r['per_target_us']:.0f} | {ratio:.2f}x "
            f"{'ok' if ratio <= 1.2 else 'MISSED'} | {r['state'] * 1000:.1f} ms | "
            f"{r['share']:.1%} {'ok' if r['share'] <= 0.10 else 'MISSED'} | "
            f"{', '.join(f'{x:.0f}' for x in r['rss'])} MB | {per_5k:.0f} "
            f"{'ok' if per_5k <= 150 else 'MISSED'} |"
        )


if __name__ == "__main__":
    main()
