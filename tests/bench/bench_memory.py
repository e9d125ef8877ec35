"""Benchmark: what one daemon holds for 1,000 and 5,000 HTTP targets (peak RSS, per target).

A real nginx on 127.0.0.1 serves one ~20 KB rendered bundle at every target's URL (hard links
of one file), all in sync. One real ``reconciler daemon --env production`` (SQLite state, its
own clone of the config repo) runs until it has logged 3 audit steps; then its peak resident
set (``VmHWM`` from /proc) is read. The marginal cost is what 4,000 more targets add, per
target. Each figure is printed beside its goal (issue 15); no figure is a pass/fail test.

Run: ``make bench`` (or ``.venv/bin/python -m tests.bench.bench_memory``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.bench.bench_audit import build_repo
from tests.bench.daemon import Daemon
from tests.servers.nginx import running_nginx

SIZES = (1000, 5000)
CYCLES = 3
INTERVAL = "1s"
#: Goals (issue 15): peak RSS at 5,000 targets, and what each target beyond 1,000 adds.
PEAK_GOAL_MB = 150
MARGINAL_GOAL_KB = 20


def _inventory(base: str, count: int) -> str:
    targets = [
        {"name": f"t{i}", "kind": "pop", "source": {"type": "http", "url": f"{base}/{i}.json"}}
        for i in range(count)
    ]
    doc = {
        "environment": "production",
        "bundles": ["support-agent"],
        "targets": targets,
        "rollout": {"waves": [{"name": "all", "targets": ["*"]}]},
    }
    return json.dumps(doc, indent=1) + "\n"


def run_size(count: int, work: Path) -> dict[str, Any]:
    """Peak and current RSS of one daemon after :data:`CYCLES` steps over ``count`` targets."""
    repo, body, _ = build_repo(work / "config")
    with running_nginx(work / "nginx") as nginx:
        www = nginx.root / "fleet"
        www.mkdir(parents=True, exist_ok=True)
        (www / "doc.json").write_bytes(body)
        for i in range(count):
            os.link(www / "doc.json", www / f"{i}.json")
        repo.write("targets/production.yaml", _inventory(nginx.url("fleet").rstrip("/"), count))
        repo.commit("inventory")
        origin = work / "origin.git"
        subprocess.run(["git", "clone", "-q", "--bare", str(repo.root), str(origin)], check=True)
        clone = work / "daemon"
        subprocess.run(["git", "clone", "-q", str(origin), str(clone)], check=True)
        daemon = Daemon(
            clone, "--env", "production", "--interval", INTERVAL,
            "--state", f"sqlite:///{clone / '.reconciler' / 'state.db'}",
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 900
            while len(daemon.steps) < CYCLES:
                if time.monotonic() > deadline:
                    raise SystemExit(f"{count}: fewer than {CYCLES} steps in 15 min")
                if daemon.proc.poll() is not None:
                    raise SystemExit(f"{count}: the daemon exited: {daemon.problems[-5:]}")
                time.sleep(0.2)
            memory = daemon.memory_kb()
        finally:
            daemon.stop()
    steps = daemon.steps[:CYCLES]
    return {
        "targets": count,
        "hwm_mb": memory["VmHWM"] / 1024,
        "rss_mb": memory["VmRSS"] / 1024,
        "seconds": [round(float(s.get("seconds", 0.0)), 2) for s in steps],
        "coverage": [s.get("coverage") for s in steps],
        "problems": daemon.problems[:3],
    }


def main() -> None:
    rows = []
    for count in SIZES:
        with tempfile.TemporaryDirectory(prefix=f"bench-memory-{count}-") as tmp:
            rows.append(run_size(count, Path(tmp)))
        r = rows[-1]
        problems = f"; problems: {r['problems']}" if r["problems"] else ""
        print(
            f"# {r['targets']} targets: steps {r['seconds']} s, coverage {r['coverage']}; "
            f"peak RSS {r['hwm_mb']:.1f} MB, RSS now {r['rss_mb']:.1f} MB{problems}",
            flush=True,
        )
    small, large = rows[0], rows[-1]
    marginal = (large["hwm_mb"] - small["hwm_mb"]) * 1024 / (large["targets"] - small["targets"])
    print(f"\ndaemon memory (one daemon, SQLite state, after {CYCLES} audit steps):")
    print("| targets | peak RSS (VmHWM) | goal |")
    print("| ---: | ---: | --- |")
    for r in rows:
        goal = f"<= {PEAK_GOAL_MB} MB" if r is large else "-"
        verdict = ("ok" if r["hwm_mb"] <= PEAK_GOAL_MB else "MISSED") if r is large else ""
        print(f"| {r['targets']} | {r['hwm_mb']:.1f} MB | {goal} {verdict} |")
    print(
        f"| marginal {small['targets']}->{large['targets']} | {marginal:.1f} KB/target | "
        f"<= {MARGINAL_GOAL_KB} KB/target {'ok' if marginal <= MARGINAL_GOAL_KB else 'MISSED'} |",
        flush=True,
    )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
