"""Benchmark: a whole audit of 1000 and 5000 HTTP targets against a bare aiohttp floor.

Everything runs on this machine in one run: a real nginx on 127.0.0.1 serves one ~20 KB rendered
bundle per target (optionally after 20 ms of added latency), the floor is a bare aiohttp loop
(256 worker coroutines, one session) fetching the same URLs, and the audit is the real
``Auditor`` (inventory load, history lookup, fetch, digest, classify, diff). Absolute times on a
shared 2-core machine mean little; the ratio is the figure. Also the cold start of
``reconciler --help`` against a bare interpreter.

Run: ``make bench`` (or ``.venv/bin/python -m tests.bench.bench_audit [--quick]``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from reconciler.audit.auditor import Auditor
from reconciler.bundle.gitrepo import GitFiles, GitRepo
from reconciler.bundle.render import render
from tests.servers.nginx import Nginx, running_nginx
from tests.support.configrepo import ConfigRepo

WORKERS = 256
ROUNDS = 3
POLICY = "\n".join(
    f"{n}. " + "Never promise a refund amount before the order is checked. " * 3
    for n in range(1, 90)
)


def build_repo(root: Path) -> tuple[ConfigRepo, bytes, bytes]:
    """A bundle whose rendered document is ~20 KB; returns its body and a drifted variant."""
    repo = ConfigRepo(root)
    repo.bundle(prompt="You help customers.\n\n" + POLICY + "\n")
    repo.commit("v1")
    git = GitRepo(root)
    sha = git.commit("HEAD").hexsha
    done = render(GitFiles(git, sha), "support-agent", sha)
    git.close()
    body = done.to_bytes()
    drifted = json.loads(body)
    drifted["components"]["model"]["params"]["temperature"] = 0.9
    return repo, body, json.dumps(drifted, indent=2, sort_keys=True).encode()


def place(
    nginx: Nginx,
    www: Path,
    repo: ConfigRepo,
    count: int,
    drift: float,
    slow: bool,
    body: bytes,
    drifted: bytes,
) -> list[str]:
    """Write one document per target under nginx's root and an inventory pointing at them."""
    urls, targets = [], []
    cutoff = int(count * drift)
    for i in range(count):
        folder = www / f"t{i}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "support-agent.json").write_bytes(drifted if i < cutoff else body)
        path = f"t{i}/support-agent.json"
        url = nginx.slow_url(path) if slow else nginx.url(path)
        urls.append(url)
        targets.append(f"  - {{name: t{i}, kind: region, source: {{type: http, url: '{url}'}}}}")
    (repo.root / "targets").mkdir(exist_ok=True)
    (repo.root / "targets" / "production.yaml").write_text(
        "environment: production\nbundles: [support-agent]\ntargets:\n" + "\n".join(targets) + "\n"
    )
    return urls


async def _floor(urls: list[str]) -> None:
    pending = iter(urls)
    connector = aiohttp.TCPConnector(limit=WORKERS)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            for url in pending:
                async with session.get(url) as response:
                    await response.read()

        await asyncio.gather(*(worker() for _ in range(WORKERS)))


def timed(fn) -> float:  # type: ignore[no-untyped-def]
    gc.collect()
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def measure(repo: ConfigRepo, urls: list[str], drift: float) -> tuple[float, float, float]:
    auditor = Auditor(repo.root, "production", environ={})
    now = dt.datetime.now(dt.UTC)
    audit = auditor.run(now=now)  # warm: history cache, nginx's page cache
    expected_drifted = int(len(urls) * drift)
    assert audit.counts()["drifted"] == expected_drifted, audit.counts()
    assert audit.counts()["in_sync"] == len(urls) - expected_drifted, audit.counts()
    floors, audits = [], []
    for _ in range(ROUNDS):
        floors.append(timed(lambda: asyncio.run(_floor(urls))))
        audits.append(timed(lambda: auditor.run(now=now)))
    cli = timed(
        lambda: subprocess.run(
            [
                str(Path(sys.executable).parent / "reconciler"),
                "--repo",
                str(repo.root),
                "audit",
                "--env",
                "production",
                "--format",
                "json",
            ],
            stdout=subprocess.DEVNULL,
            check=False,
        )
    )
    return statistics.median(floors), statistics.median(audits), cli


def cold_start() -> tuple[float, float]:
    exe = str(Path(sys.executable).parent / "reconciler")
    bare = [
        timed(lambda: subprocess.run([sys.executable, "-c", "pass"], check=True)) for _ in range(7)
    ]
    helps = [
        timed(lambda: subprocess.run([exe, "--help"], stdout=subprocess.DEVNULL, check=True))
        for _ in range(7)
    ]
    return statistics.median(bare), statistics.median(helps)


def main() -> None:
    quick = "--quick" in sys.argv
    sizes = [1000] if quick else [1000, 5000]
    print(
        f"{'targets':>7} {'latency':>7} {'drift':>5} {'floor':>8} {'audit':>8} {'ratio':>6}"
        f" {'goal':>5} {'cli wall':>8}"
    )
    with tempfile.TemporaryDirectory(prefix="bench-audit-") as tmp:
        base = Path(tmp)
        with running_nginx(base / "nginx", latency_ms=20) as nginx:
            repo, body, drifted = build_repo(base / "config")
            print(f"# document size: {len(body) / 1024:.1f} KB")
            for count in sizes:
                for slow in (False, True):
                    for drift in (0.0, 0.1):
                        urls = place(nginx, nginx.root, repo, count, drift, slow, body, drifted)
                        floor, audit, cli = measure(repo, urls, drift)
                        goal = 1.3 if drift == 0 else 2.0
                        print(
                            f"{count:>7} {'20 ms' if slow else '0':>7} {drift:>5.0%} "
                            f"{floor:>7.3f}s {audit:>7.3f}s {audit / floor:>5.2f}x {goal:>4}x "
                            f"{cli:>7.3f}s",
                            flush=True,
                        )
    bare, helped = cold_start()
    print(
        f"# reconciler --help: {helped * 1000:.0f} ms (bare interpreter {bare * 1000:.0f} ms;"
        f" goal <= 250 ms)"
    )


if __name__ == "__main__":
    main()
