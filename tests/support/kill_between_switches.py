"""A converge that SIGKILLs its own process between the switches of one group: part ``first``
is switched and acknowledged, then the process dies before part ``last`` is switched (its
switch intent recorded, never closed). Run: ``python -m tests.support.kill_between_switches
REPO FIRST LAST``; it never returns normally while a group switches."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import Any

from reconciler.clock import running
from reconciler.rollout.driver import Driver
from reconciler.rollout.writer import Writer, holder_name
from reconciler.sources.registry import SourceContext, open_source
from reconciler.sources.staging import stager_of
from reconciler.state import open_store

LEASE = 2.0


class _Stager:
    def __init__(self, inner: Any, name: str, first: str, last: str, acked: list[str]) -> None:
        self.inner, self.name, self.first, self.last, self.acked = inner, name, first, last, acked
        self.stages, self.uploads = inner.stages, inner.uploads

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self.inner, attribute)

    async def switch(self, bundle: str, hex_: str, document: bytes) -> None:
        if self.name == self.last:
            while self.first not in self.acked:  # until the first part's switch is acknowledged
                await asyncio.sleep(0)
            os.kill(os.getpid(), signal.SIGKILL)
        await self.inner.switch(bundle, hex_, document)
        self.acked.append(self.name)


class _Source:
    def __init__(self, inner: Any, name: str, first: str, last: str, acked: list[str]) -> None:
        self.inner, self.name, self.first, self.last, self.acked = inner, name, first, last, acked

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self.inner, attribute)

    def staging(self) -> _Stager:
        return _Stager(stager_of(self.inner), self.name, self.first, self.last, self.acked)


def main() -> None:
    repo, first, last = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
    acked: list[str] = []

    def opener(target: Any, ctx: SourceContext) -> Any:
        return _Source(open_source(target, ctx), target.name, first, last, acked)

    store = open_store(repo, None)
    driver = Driver(repo, "production", store, clock=running(), opener=opener)
    # A short lease: once this process is dead, the next writer may take it soon.
    driver.writer = Writer(store, "production", holder_name("converge"), ttl=LEASE)
    driver.writer.take()
    while not driver.step().complete:
        continue
    sys.exit(0)


if __name__ == "__main__":
    main()
