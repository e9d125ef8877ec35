"""Throwaway benchmark: the http source's fetch against a bare aiohttp loop, on a real nginx.

Run: ``.venv/bin/python -m tests.bench.http_fetch [targets] [rounds]``. Prints medians and the
ratio to the bare loop (the bar is ~1.3x). Not collected by pytest (tests/bench is excluded).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path

import aiohttp

from reconciler.model.inventory import TargetSpec
from reconciler.sources import SourceContext, open_source
from tests.servers.nginx import Nginx, running_nginx

WORKERS = 256


async def _pull(jobs: Iterable[object], work: Callable[[object], Awaitable[object]]) -> None:
    """C worker coroutines pulling from one iterator (performance.md: cheaper than gather)."""
    pending = iter(jobs)

    async def worker() -> None:
        for job in pending:
            await work(job)

    await asyncio.gather(*(worker() for _ in range(WORKERS)))


async def bare(urls: list[str]) -> float:
    started = time.perf_counter()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=WORKERS)) as session:

        async def get(url: object) -> None:
            async with session.get(str(url)) as response:
                assert response.status == 200
                await response.read()

        await _pull(urls, get)
    return time.perf_counter() - started


async def ours(specs: list[TargetSpec], root: Path) -> float:
    started = time.perf_counter()
    async with SourceContext(root, {}, connection_limit=WORKERS) as ctx:
        sources = [open_source(spec, ctx) for spec in specs]

        async def fetch(source: object) -> None:
            await source.fetch("support-agent")  # type: ignore[attr-defined]

        await _pull(sources, fetch)
    return time.perf_counter() - started


def measure(nginx: Nginx, count: int, rounds: int, slow: bool) -> dict[str, float]:
    url = nginx.slow_url if slow else nginx.url
    urls = [url(f"fleet/t{i}/support-agent.json") for i in range(count)]
    specs = [
        TargetSpec.model_validate(
            {"name": f"t{i}", "source": {"type": "http", "url": url(f"fleet/t{i}/{{bundle}}.json")}}
        )
        for i in range(count)
    ]
    root = Path(tempfile.mkdtemp())
    runs: dict[str, list[float]] = {"bare aiohttp": [], "source.fetch": []}
    for _ in range(rounds):
        runs["bare aiohttp"].append(asyncio.run(bare(urls)))
        runs["source.fetch"].append(asyncio.run(ours(specs, root)))
    return {name: statistics.median(times) for name, times in runs.items()}


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 7
    with tempfile.TemporaryDirectory() as prefix, running_nginx(Path(prefix)) as nginx:
        for i in range(count):
            folder = nginx.root / f"fleet/t{i}"
            folder.mkdir(parents=True)
            (folder / "support-agent.json").write_bytes(os.urandom(15_000).hex()[:22_000].encode())
        for slow in (False, True):
            result = measure(nginx, count, rounds, slow)
            base = result["bare aiohttp"]
            label = f"{count} targets, {'20 ms latency' if slow else 'no added latency'}"
            print(f"{label} (median of {rounds}):")
            for name, seconds in result.items():
                print(f"  {name:14} {seconds * 1000:7.1f} ms  x{seconds / base:.2f}")


if __name__ == "__main__":
    main()
