"""Benchmark: ``rollback`` of 1000 HTTP targets against the raw concurrent PUT + GET floor.

One run, one machine: nginx on 127.0.0.1 (WebDAV PUT) holds v2 on every target; the floor PUTs
v1's document to every target and GETs it back with a bare aiohttp loop (256 workers, one
session); the measured path is the real ``Driver.rollback`` (render; one verifying audit in
which each worker writes its target through the source and re-fetches it; quarantine).
Goal: <= 1.5x.

Run: ``.venv/bin/python -m tests.bench.bench_rollback [targets]``.
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from reconciler.bundle.gitrepo import GitFiles, GitRepo
from reconciler.bundle.render import render
from reconciler.rollout import commands
from reconciler.rollout.driver import Driver
from reconciler.state import open_store
from tests.bench.bench_audit import POLICY
from tests.servers.nginx import running_nginx
from tests.support.configrepo import ConfigRepo

WORKERS = 256
ROUNDS = 3


async def _floor(urls: list[str], body: bytes) -> None:
    pending = iter(urls)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=WORKERS)) as session:

        async def worker() -> None:
            for url in pending:
                async with session.put(url, data=body) as response:
                    await response.read()
                async with session.get(url) as response:
                    await response.read()

        await asyncio.gather(*(worker() for _ in range(WORKERS)))


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    with tempfile.TemporaryDirectory(prefix="bench-rollback-") as tmp:
        base = Path(tmp)
        with running_nginx(base / "nginx") as nginx:
            repo = ConfigRepo(base / "config")
            repo.bundle(prompt="v1\n\n" + POLICY + "\n")
            urls = [nginx.url(f"t{i}/support-agent.json") for i in range(count)]
            targets = "\n".join(
                f"  - {{name: t{i}, kind: region, source: {{type: http, url: '{url}'}}}}"
                for i, url in enumerate(urls)
            )
            repo.write(
                "targets/production.yaml",
                f"environment: production\nbundles: [support-agent]\ntargets:\n{targets}\n",
            )
            v1 = repo.commit("v1")
            repo.bundle(prompt="v2\n\n" + POLICY + "\n")
            v2 = repo.commit("v2")
            git = GitRepo(repo.root)
            docs = {
                sha: render(GitFiles(git, sha), "support-agent", sha).to_bytes() for sha in (v1, v2)
            }
            git.close()
            print(f"# {count} targets, document {len(docs[v1]) / 1024:.1f} KB")
            floors, rollbacks = [], []
            for _ in range(ROUNDS):
                asyncio.run(_floor(urls, docs[v2]))  # everyone on v2 again
                gc.collect()
                started = time.perf_counter()
                asyncio.run(_floor(urls, docs[v1]))
                floors.append(time.perf_counter() - started)
                asyncio.run(_floor(urls, docs[v2]))
                (repo.root / ".reconciler" / "state.db").unlink(missing_ok=True)
                driver = Driver(repo.root, "production", open_store(repo.root), environ={})
                gc.collect()
                started = time.perf_counter()
                done = commands.rollback(driver, v1)
                code, after = done.code, done.audit
                rollbacks.append(time.perf_counter() - started)
                driver.store.close()
                assert code == 0 and after.counts()["in_sync"] == count, after.counts()
            floor, ours = statistics.median(floors), statistics.median(rollbacks)
            print(
                f"raw PUT+GET floor {floor:.3f} s; rollback {ours:.3f} s; "
                f"ratio {ours / floor:.2f}x (goal <= 1.5x)"
            )


if __name__ == "__main__":
    main()
