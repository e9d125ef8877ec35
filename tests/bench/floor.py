"""The fetch floor as a process: a bare aiohttp script fetching every URL listed in a file.

Only aiohttp (and the stdlib) is imported; 256 worker coroutines pull from one iterator over
one ``ClientSession`` (performance.md: cheaper than gathering one task per URL). It reads each
body whole, checks the status, and prints how many documents and bytes it read. Run as a file
(``python tests/bench/floor.py URLS``), never as a module of the tests package, so that nothing
else is imported: :mod:`tests.bench.bench_audit` times this process against ``reconciler audit``.
"""

import asyncio
import sys

import aiohttp

WORKERS = 256


async def fetch_all(urls: list[str]) -> tuple[int, int]:
    pending = iter(urls)
    done = [0, 0]
    connector = aiohttp.TCPConnector(limit=WORKERS)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            for url in pending:
                async with session.get(url) as response:
                    body = await response.read()
                    if response.status != 200:
                        raise SystemExit(f"{url}: HTTP {response.status}")
                    done[0] += 1
                    done[1] += len(body)

        await asyncio.gather(*(worker() for _ in range(WORKERS)))
    return done[0], done[1]


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as listed:
        urls = listed.read().split()
    count, size = asyncio.run(fetch_all(urls))
    print(f"{count} documents, {size} bytes")


if __name__ == "__main__":
    main()
