"""Run many source operations concurrently, with a bounded number in flight.

A fixed set of worker coroutines pulls jobs from one iterator (cheaper than gathering one task
per job); every failure comes back as a value, so one bad target never stops the others.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Protocol, TypeVar

from ..model.document import Document
from ..sources.interface import Source, SourceError, TransientError

T = TypeVar("T")
R = TypeVar("R")
Job = tuple[str, str]  # (target name, bundle name)
#: What one fetch gives: raw bytes to parse, a document the source parsed, or why it failed.
Result = bytes | Document | SourceError


async def bounded(
    jobs: Sequence[T],
    work: Callable[[T], Awaitable[R]],
    *,
    concurrency: int = 256,
    on_done: Callable[[], None] | None = None,
    deadline: float | None = None,
) -> list[R | SourceError]:
    """``work(job)`` for every job, at most ``concurrency`` at once; results in job order.

    ``deadline`` (seconds) bounds the whole run: what has not answered by then is a
    :class:`TransientError` saying so, whatever each job's own timeout is. It costs nothing
    per job (one timer for the run, not one per request).
    """
    results: list[R | SourceError | None] = [None] * len(jobs)
    pending = iter(enumerate(jobs))

    async def worker() -> None:
        for index, job in pending:
            try:
                results[index] = await work(job)
            except SourceError as exc:
                results[index] = exc
            except Exception as exc:  # a source bug must not hide the other targets
                results[index] = SourceError(f"unexpected {type(exc).__name__}: {exc}"[:200])
            if on_done is not None:
                on_done()

    workers = [asyncio.ensure_future(worker()) for _ in range(min(concurrency, len(jobs)) or 1)]
    _, late = await asyncio.wait(workers, timeout=deadline)
    for task in late:
        task.cancel()
    if late:
        await asyncio.gather(*late, return_exceptions=True)
        missed = TransientError(f"audit deadline ({deadline:g}s) passed before it answered")
        results = [missed if r is None else r for r in results]
    return results  # type: ignore[return-value]


class Fetcher(Protocol):
    """Reads ``(target, bundle)`` jobs from opened sources; results in the order of ``jobs``."""

    def __call__(
        self,
        jobs: Sequence[Job],
        sources: Mapping[str, Source],
        *,
        concurrency: int = 256,
        on_done: Callable[[], None] | None = None,
        deadline: float | None = None,
    ) -> Awaitable[list[Result]]: ...


async def fetch_all(
    jobs: Sequence[Job],
    sources: Mapping[str, Source],
    *,
    concurrency: int = 256,
    on_done: Callable[[], None] | None = None,
    deadline: float | None = None,
) -> list[Result]:
    """Fetch every ``(target, bundle)``; results are in the order of ``jobs``."""

    async def fetch(job: Job) -> bytes | Document:
        return await sources[job[0]].fetch(job[1])

    return await bounded(jobs, fetch, concurrency=concurrency, on_done=on_done, deadline=deadline)
