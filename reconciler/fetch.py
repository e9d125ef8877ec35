"""Fetch every (target, bundle) pair concurrently, with a bounded number in flight.

A fixed set of worker coroutines pulls jobs from one iterator (cheaper than gathering one task
per job); every failure comes back as a :class:`SourceError` value, so one bad target never
stops the others.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence

from .sources.interface import Source, SourceError

Job = tuple[str, str]  # (target name, bundle name)
Result = bytes | SourceError


async def fetch_all(
    jobs: Sequence[Job],
    sources: Mapping[str, Source],
    *,
    concurrency: int = 256,
    on_done: Callable[[], None] | None = None,
) -> list[Result]:
    """Fetch every job; results are in the order of ``jobs``."""
    results: list[Result | None] = [None] * len(jobs)
    pending = iter(enumerate(jobs))

    async def worker() -> None:
        for index, (target, bundle) in pending:
            try:
                results[index] = await sources[target].fetch(bundle)
            except SourceError as exc:
                results[index] = exc
            except Exception as exc:  # a source bug must not hide the other targets
                results[index] = SourceError(f"unexpected {type(exc).__name__}: {exc}"[:200])
            if on_done is not None:
                on_done()

    workers = min(concurrency, len(jobs)) or 1
    await asyncio.gather(*(worker() for _ in range(workers)))
    return [r if r is not None else SourceError("not fetched") for r in results]
