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
from ..bundle.gitrepo import GitFiles, repo_at
from ..bundle.render import overlay_path, render
from ..diff.document import Document
from ..environment import EnvironmentRun
from ..model.inventory import Inventory
from ..sources.interface import NotFound, Source, SourceError
from ..sources.staging import digest_hex, stager_of
from ..state.interface import StateStore
from ..state.switches import SwitchIntent
from .switching import Group, GroupOutcome, Part, Switcher

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
        repo = repo_at(self.repo_root)
        sha = repo.commit(revision).hexsha
        return render(GitFiles(repo, sha), bundle, sha).digest

    def for_targets(self, bundle: str, revision: str, targets: Sequence[str]) -> dict[str, bytes]:
        """``bundle`` at ``revision`` as each target sees it (its overlay, if it has one)."""
        repo = repo_at(self.repo_root)
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


class Actor:
    """Writes one environment's targets and records every attempt (on the run's event loop and
    HTTP pool)."""

    def __init__(
        self,
        run: EnvironmentRun,
        store: StateStore,
        documents: Documents,
        *,
        fence: Callable[[], None] = lambda: None,
    ) -> None:
        self.fence = fence  #: raises Deposed once this writer lost its lease
        self.run = run
        self.environment = run.environment
        self.store = store
        self.documents = documents
        self.clock = run.clock
        #: How each group of the last :meth:`write` went.
        self.outcomes: list[GroupOutcome] = []

    def write(
        self,
        inventory: Inventory,
        bundle: str,
        revision: str,
        targets: Sequence[str],
        before: Mapping[str, str | None] | None = None,
    ) -> Failed:
        """Stage ``revision``'s render of ``bundle`` on ``targets``, then switch them, group by
        group (design §12; :mod:`.switching`). ``before``: the revision each target runs, what
        a failed group switch puts it back on.

        The fence is checked before staging and before switching (:class:`~.writer.Writer`):
        once this writer is pre-empted nothing more switches and
        :class:`~reconciler.state.interface.Deposed` is raised. What happened to each group is
        left in :attr:`outcomes`.
        """
        self.outcomes = []
        if not targets:
            return {}
        specs = {t.name: t for t in inventory.targets}
        docs = self.documents.for_targets(bundle, revision, targets)
        # What each part ran is needed to switch a group back, or to keep a staged copy of it:
        # never rendered for a lone part that stages nothing (most HTTP fleets).
        needed = {
            t: rev
            for t, rev in (before or {}).items()
            if specs[t].group is not None or _stages(specs[t].source)
        }
        old = self._befores(bundle, needed)
        groups: dict[str, Group] = {}
        for name in targets:
            key = specs[name].group or f"\0{name}"
            groups.setdefault(key, Group(key.lstrip("\0"), []))
            groups[key].parts.append(Part(specs[name], docs[name], old.get(name)))
        plan = list(groups.values())
        keep = inventory.rollout.keep_staged

        async def switch() -> tuple[list[GroupOutcome], list[SwitchIntent]]:
            ctx, opener = self.run.sources, self.run.opener  # the step's HTTP pool
            opened = self._intents(bundle, revision)
            switcher = Switcher(ctx, opener, fence=self.fence, open_intents=opened)
            outcomes, intents = await switcher.run(bundle, plan)
            await self._collect(switcher, bundle, plan, outcomes, keep)
            return outcomes, intents

        with gc_paused():
            outcomes, intents = self.run.call(switch())
        self.outcomes = outcomes
        self._close(bundle, outcomes, intents)
        failed = {t: e for o in outcomes for t, e in o.failed.items()}
        self.record(bundle, revision, targets, failed)
        return failed

    def resume(self, inventory: Inventory, intents: Sequence[SwitchIntent]) -> list[str]:
        """Re-issue the switches of unfinished intents and close them; one line for each."""
        specs = {t.name: t for t in inventory.targets}
        work: list[tuple[SwitchIntent, list[Part]]] = []
        for intent in intents:
            names = [n for n in intent.parts if n in specs]
            docs = self.documents.for_targets(intent.bundle, intent.revision, names)
            work.append((intent, [Part(specs[n], docs[n]) for n in names]))

        async def switch() -> list[GroupOutcome]:
            switcher = Switcher(self.run.sources, self.run.opener, fence=self.fence)
            self.fence()
            return list(await asyncio.gather(*(switcher.resume(i, p) for i, p in work)))

        with gc_paused():
            outcomes = self.run.call(switch())
        lines = []
        at = self.clock()
        for (intent, _), outcome in zip(work, outcomes, strict=True):
            self.store.close_intent(intent, f"resumed: {outcome.outcome}", outcome.torn_seconds, at)
            lines.append(f"group {intent.group}: unfinished switch re-issued: {outcome.outcome}")
        return lines

    def _befores(self, bundle: str, before: Mapping[str, str | None]) -> dict[str, bytes]:
        """Each target's document at the revision it runs (to switch back to)."""
        by_revision: dict[str, list[str]] = {}
        for target, rev in before.items():
            if rev is not None:
                by_revision.setdefault(rev, []).append(target)
        out: dict[str, bytes] = {}
        for rev, names in by_revision.items():
            try:
                out.update(self.documents.for_targets(bundle, rev, names))
            except Exception:
                continue
        return out

    def _intents(
        self, bundle: str, revision: str
    ) -> Callable[[Sequence[Group], Mapping[str, Mapping[str, str]]], list[SwitchIntent]]:
        def record(
            groups: Sequence[Group], hexes: Mapping[str, Mapping[str, str]]
        ) -> list[SwitchIntent]:
            at = self.clock()
            return [
                self.store.open_intent(
                    self.environment, bundle, g.name, revision, _digest(g), hexes[g.name], at
                )
                for g in groups
                if len(g.parts) > 1  # one part alone is never torn
            ]

        return record

    def _close(
        self, bundle: str, outcomes: Sequence[GroupOutcome], intents: Sequence[SwitchIntent]
    ) -> None:
        """Close the step's intents, and remember what is staged and what serves."""
        at = self.clock()
        by_group = {o.group: o for o in outcomes}
        for intent in intents:
            done = by_group[intent.group]
            self.store.close_intent(intent, done.outcome, done.torn_seconds, at)
        staged = [pair for o in outcomes for pair in o.staged]
        served = [pair for o in outcomes for pair in o.served if pair in staged]
        if staged:
            self.store.record_staged(self.environment, bundle, staged, at)
        if served:
            self.store.record_served(self.environment, bundle, served, at)

    async def _collect(
        self,
        switcher: Switcher,
        bundle: str,
        plan: Sequence[Group],
        outcomes: Sequence[GroupOutcome],
        keep: int,
    ) -> None:
        """Delete staged copies beyond the last ``keep`` served digests of each switched part;
        never the serving one, nor the one it ran before (a rollback's)."""
        parts = {p.name: p for g in plan for p in g.parts}
        switched = [t for o in outcomes if o.outcome == "switched" for t, _ in o.staged]
        if not switched:
            return
        copies = self.store.staged_copies(self.environment)
        for target in switched:
            part = parts[target]
            rows = copies.get((target, bundle), [])
            served = [d for d, at in rows if at is not None][: max(keep - 1, 0)]
            kept = {digest_hex(part.document), *served}
            if part.before is not None:
                kept.add(digest_hex(part.before))
            gone = await switcher.collect(bundle, part.spec, kept, [d for d, _ in rows])
            if gone:
                self.store.forget_staged(self.environment, bundle, target, gone)

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


def _stages(source: object) -> bool:
    """Whether a target of this source type keeps staged copies (design §12)."""
    kind = getattr(source, "type", None)
    return kind in ("file", "s3", "mlflow") or getattr(source, "stage_url", None) is not None


def _digest(group: Group) -> str:
    """The digest a group switches to (its first part's render; overlays differ per part)."""
    return "sha256:" + digest_hex(group.parts[0].document)


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
        #: Jobs switched back to a staged copy (no content uploaded), by digest hex.
        self.switched: dict[Job, str] = {}
        #: Jobs whose staged copy was gone: written in full instead, and why.
        self.fallback: dict[Job, str] = {}

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
                    await self._write(job, source, document)
                except SourceError as exc:
                    self.failed[job] = exc
            return await source.fetch(job[1])

        return await bounded(jobs, one, concurrency=concurrency, on_done=on_done, deadline=deadline)

    async def _write(self, job: Job, source: Source, document: bytes) -> None:
        """A switch to the staged copy where there is one; else (or when it is gone) the whole
        content (design §12: rollback is a switch)."""
        stager = stager_of(source)
        if not stager.stages or stager.uploads:  # its switch is a full write anyway
            await source.apply(job[1], document)
            return
        hex_ = digest_hex(document)
        try:
            await stager.switch(job[1], hex_, document)
        except NotFound:
            self.fallback[job] = f"no staged copy of {hex_[:12]}: written in full"
            await source.apply(job[1], document)
            return
        self.switched[job] = hex_
