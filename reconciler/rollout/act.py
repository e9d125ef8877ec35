"""Writing targets: render a revision once per overlay, write it concurrently, say what happened.

Every write returns a structured outcome (target -> the ``SourceError`` or None), recorded in
the state store; nothing here decides whether a target converged (only a fresh fetch does).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from ..audit.auditor import gc_paused
from ..audit.fetch import Job, Result, bounded
from ..bundle.gitrepo import GitFiles, GitRepo
from ..bundle.render import overlay_path, render
from ..diff.document import Document
from ..model.inventory import Inventory
from ..sources.interface import Source, SourceError
from ..sources.registry import SourceContext, SourceOpener, open_source
from ..state.interface import Deposed, StateStore

#: target -> why its write failed (absent: written).
Failed = dict[str, SourceError]


class Documents:
    """Rendered documents of a bundle at a revision, per target (overlays), rendered once."""

    def __init__(self, repo_root: Path) -> None:
        self.repo_root = repo_root
        self._done: dict[tuple[str, str, str | None], bytes] = {}  #: (bundle, sha, overlay)
        self._overlay: dict[tuple[str, str, str], bool] = {}  #: (bundle, sha, target)

    def digest(self, bundle: str, revision: str) -> str:
        """The bundle digest of ``bundle`` at ``revision`` (no overlay): what a quarantine holds."""
        repo = GitRepo(self.repo_root)
        try:
            sha = repo.commit(revision).hexsha
            return render(GitFiles(repo, sha), bundle, sha).digest
        finally:
            repo.close()

    def for_targets(self, bundle: str, revision: str, targets: Sequence[str]) -> dict[str, bytes]:
        """``bundle`` at ``revision`` as each target sees it (its overlay, if it has one)."""
        repo = GitRepo(self.repo_root)
        try:
            sha = repo.commit(revision).hexsha
            files = GitFiles(repo, sha)
            out = {}
            for target in targets:
                known = self._overlay.get((bundle, sha, target))
                if known is None:
                    try:
                        files.read(overlay_path(bundle, target))
                        known = True
                    except FileNotFoundError:
                        known = False
                    self._overlay[(bundle, sha, target)] = known
                key = (bundle, sha, target if known else None)
                if key not in self._done:
                    self._done[key] = render(files, bundle, sha, key[2]).to_bytes()
                out[target] = self._done[key]
            return out
        finally:
            repo.close()


class Actor:
    """Writes one environment's targets and records every attempt."""

    def __init__(
        self,
        environment: str,
        store: StateStore,
        documents: Documents,
        *,
        files_root: Path,
        environ: Mapping[str, str],
        clock: Callable[[], float],
        opener: SourceOpener = open_source,
        fence: Callable[[], None] = lambda: None,
    ) -> None:
        self.fence = fence  #: raises Deposed once this writer lost its lease
        self.environment = environment
        self.store = store
        self.documents = documents
        self.files_root = files_root
        self.environ = environ
        self.clock = clock
        self.opener = opener

    def write(
        self, inventory: Inventory, bundle: str, revision: str, targets: Sequence[str]
    ) -> Failed:
        """Write ``revision``'s render of ``bundle`` to ``targets`` concurrently.

        Each write first checks the fence (:class:`~reconciler.rollout.writer.Writer`): once
        this writer is pre-empted, no further target is written, what was written is recorded,
        and :class:`~reconciler.state.interface.Deposed` is raised.
        """
        if not targets:
            return {}
        specs = {t.name: t for t in inventory.targets}
        docs = self.documents.for_targets(bundle, revision, targets)
        stopped: list[Deposed] = []

        async def run() -> list[SourceError | None]:
            async with SourceContext(self.files_root, self.environ) as ctx:

                async def one(target: str) -> None:
                    try:
                        self.fence()
                    except Deposed as exc:
                        stopped.append(exc)
                        raise _NotWritten("not written: pre-empted") from None
                    await self.opener(specs[target], ctx).apply(bundle, docs[target])

                return await bounded(list(targets), one)

        with gc_paused():
            outcomes = dict(zip(targets, asyncio.run(run()), strict=True))
        written = [t for t in targets if not isinstance(outcomes[t], _NotWritten)]
        failed = {t: o for t in written if (o := outcomes[t]) is not None}
        if stopped:
            self.record(bundle, revision, written, failed, fenced=False)
            raise stopped[0]
        self.record(bundle, revision, targets, failed)
        return failed

    def record(
        self,
        bundle: str,
        revision: str,
        targets: Sequence[str],
        failed: Mapping[str, SourceError],
        *,
        fenced: bool = True,
    ) -> None:
        """Record one batch of apply attempts in one transaction (a pre-empted writer records
        what it did write with the fence lifted: a fact, not a decision)."""
        if not targets:
            return
        if not fenced:
            self.store.fence(None)
        self.store.record_applies(
            self.environment,
            bundle,
            revision,
            self.clock(),
            [
                (t, "error", f"apply failed: {failed[t]}") if t in failed else (t, "ok", None)
                for t in targets
            ],
        )

    def revert(
        self, inventory: Inventory, bundle: str, targets: Sequence[tuple[str, str]]
    ) -> Failed:
        """Put each target back on its own revision (``on_stall: rollback``)."""
        by_revision: dict[str, list[str]] = {}
        for target, revision in targets:
            by_revision.setdefault(revision, []).append(target)
        failed: Failed = {}
        for revision, names in sorted(by_revision.items()):
            failed.update(self.write(inventory, bundle, revision, names))
        return failed


class _NotWritten(SourceError):
    """A write skipped because the writer was pre-empted first."""


class WriteThenFetch:
    """A :class:`~reconciler.audit.fetch.Fetcher` for rollback: each worker writes its target and
    re-fetches it at once (one pooled connection, one pass over the fleet).

    A failed write lands in ``failed``; the fetch still says what the target really holds.
    """

    def __init__(
        self, documents: Mapping[Job, bytes], *, fence: Callable[[], None] = lambda: None
    ) -> None:
        self.documents = documents
        self.fence = fence  #: raises Deposed once the writer lost its lease: then no write
        self.failed: dict[Job, SourceError] = {}

    async def __call__(
        self,
        jobs: Sequence[Job],
        sources: Mapping[str, Source],
        *,
        concurrency: int = 256,
        on_done: Callable[[], None] | None = None,
        deadline: float | None = None,
    ) -> list[Result]:
        async def one(job: Job) -> bytes | Document:
            source = sources[job[0]]
            document = self.documents.get(job)
            if document is not None:
                self.fence()
                try:
                    await source.apply(job[1], document)
                except SourceError as exc:
                    self.failed[job] = exc
            return await source.fetch(job[1])

        return await bounded(jobs, one, concurrency=concurrency, on_done=on_done, deadline=deadline)
