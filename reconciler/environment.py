"""One run of one environment: what every part of a step (or of a command) shares.

An :class:`EnvironmentRun` owns the six values that say where and how an environment is read —
the repo root, the environment, where ``file`` targets live, the environment variables, how a
target's source opens, the clock — and, while it is open, what is costly to make twice: the
inventory (loaded once), the pooled :class:`~reconciler.bundle.gitrepo.GitRepo`, one event loop
and one HTTP pool (:class:`~reconciler.sources.context.SourceContext`). The fetch, the health
checks, the output samples, the Prometheus queries and the applies of one step all run on that
loop and share that pool; closing the run closes them.

It sits below the audit and the rollout (both use it) and above the sources, the bundle and the
config it wires together; it decides nothing.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Coroutine, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from .bundle.gitrepo import GitRepo, repo_at
from .config.inventory import load_inventory
from .statedir import cache_dir

if TYPE_CHECKING:
    from .model.inventory import Inventory
    from .sources.context import SourceContext
    from .sources.registry import SourceOpener

T = TypeVar("T")
Clock = Callable[[], float]


class EnvironmentRun:
    """The shared context of one environment's step or command.

    Use it as ``with run.open(): ...`` around a step: inside, :meth:`inventory` is read once,
    and every :meth:`call` runs on one event loop with one HTTP pool (:attr:`sources`). Opening
    nests (only the outermost open makes and closes them). Outside an open run each
    :meth:`call` is a run of its own, and the inventory is read again at every ask (the files
    may have changed between commands).
    """

    def __init__(
        self,
        repo_root: Path,
        environment: str,
        *,
        files_root: Path | None = None,
        environ: Mapping[str, str] | None = None,
        opener: SourceOpener | None = None,
        clock: Clock = time.time,
        plain: bool = False,
    ) -> None:
        self.repo_root = repo_root.resolve()
        #: Where ``file`` targets' paths resolve (the daemon reads git from its own clone).
        self.files_root = (files_root or repo_root).resolve()
        self.environment = environment
        self.environ: dict[str, str] = dict(os.environ if environ is None else environ)
        self._opener = opener
        self.clock = clock
        #: Read the inventory as plain objects (:mod:`reconciler.model.plain`).
        self.plain = plain
        self._depth = 0
        self._runner: asyncio.Runner | None = None
        self._sources: SourceContext | None = None
        self._inventory: Inventory | None = None

    @property
    def opener(self) -> SourceOpener:
        """How a target's source opens (the registry's, unless a test gave its own fleet)."""
        if self._opener is None:
            from .sources.registry import open_source

            self._opener = open_source
        return self._opener

    @property
    def repo(self) -> GitRepo:
        """The config repo, from the process's pool (one ``git cat-file`` for every reader)."""
        return repo_at(self.repo_root)

    def inventory(self) -> Inventory:
        """The environment's inventory: read once while the run is open."""
        if self._inventory is not None:
            return self._inventory
        inventory = load_inventory(
            self.repo_root, self.environment, cache_dir(self.repo_root), plain=self.plain
        )
        if self._depth:
            self._inventory = inventory
        return inventory

    @property
    def sources(self) -> SourceContext:
        """The run's HTTP pool and source settings; ask for it on the run's loop (in a coroutine
        given to :meth:`call`): it is closed there when the run closes."""
        if self._sources is None:
            from .sources.context import SourceContext

            self._sources = SourceContext(self.files_root, self.environ)
        return self._sources

    def call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` to its end on the run's event loop (a loop of its own when the run
        is not open)."""
        if self._runner is None:
            with self.open():
                assert self._runner is not None
                return self._runner.run(coroutine)
        return self._runner.run(coroutine)

    @contextmanager
    def open(self) -> Iterator[EnvironmentRun]:
        """Share one inventory, one event loop and one HTTP pool until the block ends."""
        if self._depth == 0:
            self._runner = asyncio.Runner()  # its loop is made at the first call, if any
            self._inventory = None
        self._depth += 1
        try:
            yield self
        finally:
            self._depth -= 1
            if self._depth == 0:
                self._close()

    def _close(self) -> None:
        runner, self._runner = self._runner, None
        sources, self._sources = self._sources, None
        self._inventory = None
        if runner is None:
            return
        try:
            if sources is not None:
                runner.run(sources.close())
        finally:
            runner.close()
