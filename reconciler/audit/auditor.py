"""The audit: fetch every target, classify each bundle it carries, collect findings.

This module wires the pure cores (render, observation, classify, diff, ignore) to git and the
sources; it prints nothing (formats live in :mod:`reconciler.report`).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import gc
import hashlib
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..bundle.history import BundleHistory
from ..bundle.snapshot import Snapshot, snapshot
from ..canonical import bundle_digest, component_digests
from ..diff import ignore as ignoring
from ..diff.change import Change
from ..diff.classify import Lineage, Status, Verdict, classify
from ..diff.document import Document, InvalidDocument, parse
from ..diff.findings import model_pin_findings
from ..environment import EnvironmentRun
from ..errors import ConfigError
from ..model.codes import FindingCode
from ..revisions import revision_label
from ..sources.interface import (
    Health,
    InvalidResponse,
    NotFound,
    PermanentError,
    Source,
    SourceError,
)
from ..statedir import cache_dir
from .devices import Reading, check_fleets, judge_target, read_devices
from .fetch import Fetcher, Result, fetch_all
from .findings import fleet_findings, loaded, torn_findings
from .results import Audit, BundleResult, Finding, Survey, TargetResult
from .verdict import Recorded
from .views import View, Views

if TYPE_CHECKING:
    from ..model.inventory import Inventory, TargetSpec
    from ..sources.registry import SourceOpener


#: The audit's overall deadline unless ``--timeout`` says otherwise (each target also has its
#: own timeout, 100 ms to 5 min): what has not answered by then is ``unreachable``.
DEFAULT_DEADLINE = 300.0


class Auditor:
    """Runs audits of one environment of one repo (``env_run``: the environment run it is part of;
    else one of its own, made of the other arguments)."""

    def __init__(
        self,
        repo_root: Path,
        environment: str,
        *,
        revision: str | None = None,
        environ: Mapping[str, str] | None = None,
        concurrency: int = 256,
        only: set[str] | None = None,
        files_root: Path | None = None,
        recorded: Recorded | None = None,
        opener: SourceOpener | None = None,
        fetcher: Fetcher | None = None,
        deadline: float | None = DEFAULT_DEADLINE,
        plain: bool = False,
        env_run: EnvironmentRun | None = None,
        stores_only: bool = False,
    ) -> None:
        run = env_run
        if run is None:
            run = EnvironmentRun(
                repo_root,
                environment,
                files_root=files_root,
                environ=environ,
                opener=opener,
                plain=plain,
            )
        #: Where it reads: the inventory, the pooled repo, the event loop and the HTTP pool.
        self.env_run = run
        self.repo_root = run.repo_root
        #: Where ``file`` targets' paths resolve (the daemon reads git from its own clone).
        self.files_root = run.files_root
        self.environment = run.environment
        self.revision = revision
        self.environ = run.environ
        self.concurrency = concurrency
        self.only = only
        #: What the state store knows (None: no state, git time alone decides).
        self.recorded = recorded
        #: Seconds the whole fetch may take; targets not answered by then are unreachable.
        self.deadline = deadline
        #: How the opened sources are read: every job fetched once, concurrently (a rollback
        #: passes its own, which writes each target just before re-fetching it).
        self.fetcher: Fetcher = fetcher or fetch_all
        #: Leave devices targets out (a rollout writes them through their manifests, §13).
        self.stores_only = stores_only

    def run(
        self,
        now: dt.datetime | None = None,
        progress: Callable[[int], Callable[[], None]] | None = None,
    ) -> Audit:
        """Observe every target, then judge each bundle as of ``now`` with what was recorded."""
        now = now or dt.datetime.now(dt.UTC)
        survey = self.observe(now, progress)
        with gc_paused():  # thousands of results made again, none of them cyclic
            return survey.judged(self.recorded, now.timestamp())

    def observe(
        self,
        now: dt.datetime | None = None,
        progress: Callable[[int], Callable[[], None]] | None = None,
    ) -> Survey:
        """Fetch and classify every target; :meth:`Survey.judged` then gives the audit."""
        now = now or dt.datetime.now(dt.UTC)
        started = time.monotonic()  # the deadline bounds every wait: fetches, then outputs
        with self.env_run.open():  # one event loop and one HTTP pool for fetches and outputs
            inventory = self.inventory()
            cache = cache_dir(self.repo_root) / "history.json"
            git = snapshot(self.repo_root, self.revision, cache)
            try:
                survey = self._run(git, inventory, now, progress)
            finally:
                git.cache.save()
            if any(t.outputs is not None for t in inventory.targets):
                from .outputs import check_outputs  # jsonschema loads only where outputs are read

                deadline = self.deadline
                spent = time.monotonic() - started
                left = None if deadline is None else max(deadline - spent, 0)
                check_outputs(survey, git, self.env_run, left=left, deadline=deadline)
        return survey

    def inventory(self) -> Inventory:
        """The environment's inventory (only the targets asked for, when ``only`` is set)."""
        inventory = self.env_run.inventory()  # read once while the run is open
        if self.stores_only and any(t.is_devices() for t in inventory.targets):
            kept = [t for t in inventory.targets if not t.is_devices()]
            inventory = inventory.model_copy(update={"targets": kept})
        if self.only is not None:
            unknown = sorted(self.only - {t.name for t in inventory.targets})
            if unknown:
                raise ConfigError(
                    f"no target named {', '.join(unknown)}",
                    file=f"targets/{self.environment}.yaml",
                )
            kept = [t for t in inventory.targets if t.name in self.only]
            inventory = inventory.model_copy(update={"targets": kept})
        return inventory

    def _run(
        self,
        git: Snapshot,
        inventory: Inventory,
        now: dt.datetime,
        progress: Callable[[int], Callable[[], None]] | None,
    ) -> Survey:
        repo, desired = git.repo, git.desired
        histories = {b: git.history(b) for b in inventory.bundles}
        first_seen = self.recorded.first_seen if self.recorded is not None else None
        findings: list[Finding] = []
        rules = ignoring.active_rules(inventory.ignore, now.date())
        for rule in inventory.ignore:
            if rule not in rules:
                findings.append(
                    Finding(
                        "warning",
                        FindingCode.IGNORE_EXPIRED,
                        f"ignore rule ({rule.reason!r}, owner {rule.owner}) expired on "
                        f"{rule.expires}: its differences count again",
                    )
                )
        views = Views(histories, rules, first_seen, now.timestamp())
        fleets = [t for t in inventory.targets if t.is_devices()]
        stores = [t for t in inventory.targets if not t.is_devices()]
        jobs = [(t.name, b) for t in stores for b in inventory.bundles]
        jobs += [(_probe(t.name), b) for t in stores if t.probe for b in inventory.bundles]
        # Render desired for every target before any I/O, so config errors come first.
        seen = {(t.name, b): views.get(t, b) for t in stores for b in inventory.bundles}
        declared = check_fleets(fleets, histories, inventory.environment)
        on_done = progress(len(jobs)) if progress is not None else None
        judged: dict[tuple[int, int], _Judgement] = {}
        results: list[TargetResult] = []
        stamp = now.timestamp()
        with gc_paused():
            earlier = stamp - inventory.rollout.progress_deadline
            raw, fleet_reads = self.env_run.call(
                self._fetch(inventory, jobs, on_done, fleets, (declared, earlier))
            )
            for target in inventory.targets:
                if target.is_devices():
                    fleet, more = judge_target(
                        target, inventory, fleet_reads, histories, git.tags, stamp
                    )
                    findings += more
                    results.append(TargetResult(target, fleet))
                    continue
                bundles = []
                for bundle in inventory.bundles:
                    context = (seen[(target.name, bundle)], histories[bundle], stamp, judged)
                    result = self._judged(
                        target, bundle, raw[(target.name, bundle)], *context, findings
                    )
                    if target.probe is not None:
                        process = self._judged(
                            target, bundle, raw[(_probe(target.name), bundle)], *context, []
                        )
                        loaded(result, process, git.tags)
                    bundles.append(result)
                results.append(TargetResult(target, bundles))
            del raw, judged
        findings += fleet_findings(results)
        findings += torn_findings(results, git.tags)
        for bundle in inventory.bundles:
            components = histories[bundle].desired_render(None).components
            findings += [
                Finding("warning", code, message, bundle=bundle)
                for code, message in model_pin_findings(components)
            ]
        return Survey(
            environment=inventory.environment,
            generated_at=now,
            desired_revision=desired,
            committed_at=repo.committed_at(desired),
            desired={b: histories[b].desired_render(None) for b in inventory.bundles},
            targets=results,
            findings=findings,
            inventory=inventory,
            tags=git.tags,
        )

    async def _fetch(
        self,
        inventory: Inventory,
        jobs: list[tuple[str, str]],
        on_done: Callable[[], None] | None,
        fleets: list[TargetSpec],
        tiers: tuple[dict[str, list[str]], float],
    ) -> tuple[dict[tuple[str, str], Result], dict[tuple[str, str], Reading]]:
        opener = self.env_run.opener
        ctx = self.env_run.sources  # the run's HTTP pool: closed with the run, not here
        read = Bodies()
        stores = [t for t in inventory.targets if not t.is_devices()]
        sources: dict[str, Source] = {t.name: Read(opener(t, ctx), read) for t in stores}
        for t in stores:
            if t.probe is not None:
                as_target = t.model_copy(update={"source": t.probe.as_source(), "health": None})
                sources[_probe(t.name)] = Read(opener(as_target, ctx), read)
        fetched = self.fetcher(
            jobs,
            sources,
            concurrency=self.concurrency,
            on_done=on_done,
            deadline=self.deadline,
        )
        declared, earlier = tiers
        observed = read_devices(
            fleets, inventory.bundles, declared, ctx, inventory.environment, earlier
        )
        done, devices = await asyncio.gather(fetched, observed)
        return dict(zip(jobs, done, strict=True)), devices

    def _judged(
        self, target: TargetSpec, bundle: str, body: Result, view: View, *args: Any
    ) -> BundleResult:
        result = self._judge(target, bundle, body, view, *args)
        result.desired_digest = view.desired_subset
        return result

    def _judge(
        self,
        target: TargetSpec,
        bundle: str,
        body: Result,
        view: View,
        history: BundleHistory,
        now: float,
        judged: dict[tuple[int, int], _Judgement],
        findings: list[Finding],
    ) -> BundleResult:
        if isinstance(body, NotFound):
            return BundleResult(bundle, Status.MISSING, error=str(body) or "not found")
        if isinstance(body, InvalidResponse):
            return BundleResult(bundle, Status.INVALID, error=str(body), permanent=True)
        if isinstance(body, Unparsable):
            return BundleResult(bundle, Status.INVALID, error=str(body))
        if isinstance(body, SourceError):
            return BundleResult(
                bundle,
                Status.UNREACHABLE,
                error=str(body) or "unreachable",
                permanent=isinstance(body, PermanentError),
            )
        doc = body if isinstance(body, Document) else Bodies().parse(body)  # a custom fetcher's
        if isinstance(doc, InvalidDocument):
            return BundleResult(bundle, Status.INVALID, error=str(doc))
        if doc.name != bundle:
            return BundleResult(
                bundle, Status.INVALID, error=f"serves bundle {doc.name!r}, not {bundle!r}"
            )
        # Targets that see the bundle alike (one view) and serve the same document (one parse)
        # get one judgement: thousands of targets in sync cost one classification.
        key = (id(view), id(doc))
        done = judged.get(key)
        if done is None:
            done = judged[key] = _judgement(target, doc, view, history, now)
        for key_ in done.misstated:
            findings.append(
                Finding(
                    "warning",
                    FindingCode.MISSTATED_DIGEST,
                    f"states a digest for {key_} "
                    "that its content does not have (recomputed from content)",
                    target.name,
                    bundle,
                )
            )
        verdict = done.verdict
        result = BundleResult(
            bundle,
            verdict.status,
            observed_digest=done.observed_digest,
            observed_revision=verdict.observed_revision,
            behind=verdict.behind,
            lag_seconds=verdict.lag_seconds,
            changes=list(done.changes),
            # Only a group is judged torn by it: a target alone never walks the whole history.
            runs_any_of=done.runs_any_of() if target.group is not None else frozenset(),
        )
        if verdict.status is Status.DRIFTED and not (done.changes or verdict.matched_elsewhere):
            # Equal as values (numbers as numbers, sets as sets: design §6), only written
            # differently (1024.0 for 1024): in sync, and said, since its digest differs.
            result.status, result.observed_revision = Status.IN_SYNC, history.desired
            result.behind, result.lag_seconds = 0, 0
            findings.append(
                Finding(
                    "warning",
                    FindingCode.EQUAL_BUT_RESPELLED,
                    "serves the desired values written differently (numbers or list "
                    "order), so its content digest differs from the desired one",
                    target.name,
                    bundle,
                )
            )
        if view.rules:
            result.ignored = ignoring.ignored(
                target.name, done.carried, view.desired_raw, view.rules
            )
        if verdict.matched_elsewhere:
            findings.append(
                Finding(
                    "warning",
                    FindingCode.NOT_AN_ANCESTOR,
                    f"content equals revision {revision_label(verdict.matched_elsewhere)}, "
                    "which is not an ancestor of the desired revision",
                    target.name,
                    bundle,
                )
            )
        return result


@dataclass(frozen=True, slots=True)
class _Judgement:
    """What one document tells through one view: the same for every target that shares both."""

    document: Document  #: kept alive: the cache is keyed by its id
    misstated: list[str]
    carried: dict[str, Any]
    observed_digest: str
    verdict: Verdict
    changes: list[Change]
    lineage: Lineage
    _runs: list[frozenset[str]] = field(default_factory=list)

    def runs_any_of(self) -> frozenset[str]:
        """Every revision of the lineage whose carried content is the observed one (walks the
        whole lineage, once)."""
        if not self._runs:
            self._runs.append(
                frozenset(
                    sha
                    for sha, subset in zip(self.lineage.shas, self.lineage.subsets, strict=True)
                    if subset == self.observed_digest
                )
            )
        return self._runs[0]


def _judgement(
    target: TargetSpec, doc: Document, view: View, history: BundleHistory, now: float
) -> _Judgement:
    """Classify ``doc`` as ``target`` (and every target sharing its view) sees it."""
    carried = {k: v for k, v in doc.components.items() if target.carries_component(k)}
    if view.rules:  # a view with rules belongs to one target: stripping is its own
        observed = view.strip(target.name, carried)
        digests = component_digests(observed)
    else:
        observed = carried
        digests = {k: doc.digests[k] for k in carried}
    observed_digest = bundle_digest(digests)
    verdict = classify(
        desired_subset=view.desired_subset,
        observed_subset=observed_digest,
        desired_revision=history.desired,
        lineage=view.lineage,
        now=now,
        behind=history.behind,
    )
    changes: list[Change] = []
    if verdict.status is not Status.IN_SYNC:
        from ..diff.bundle import diff_bundle  # the diff engine loads when something differs

        changes = diff_bundle(observed, view.desired, digests, view.desired_digests)
    return _Judgement(
        doc, doc.misstated(), carried, observed_digest, verdict, changes, view.lineage
    )


class Unparsable(SourceError):
    """What a target answered is not a rendered bundle (``str()`` says why): ``invalid``."""


class Bodies:
    """Every body one audit reads, parsed once: equal bodies share one :class:`Document`.

    Bodies are compared as they arrive (a few bytes compared, not a hash of every body, when a
    fleet serves one document) and then dropped: an audit keeps one parsed document per distinct
    body, never the thousands of bodies themselves.
    """

    #: Distinct bodies of one size kept for comparison; beyond that, they are told by digest.
    KEEP = 8

    def __init__(self) -> None:
        self._by_size: dict[int, list[tuple[bytes, Document | InvalidDocument]]] = {}
        self._by_digest: dict[bytes, Document | InvalidDocument] = {}

    def parse(self, body: bytes) -> Document | InvalidDocument:
        """``body`` parsed (or why it is not a rendered bundle)."""
        alike = self._by_size.setdefault(len(body), [])
        for seen, known in alike:
            if seen == body:
                return known
        digest = hashlib.sha256(body).digest() if len(alike) >= self.KEEP else b""
        if digest:
            found = self._by_digest.get(digest)
            if found is not None:
                return found
        try:
            doc: Document | InvalidDocument = parse(body)
        except InvalidDocument as exc:
            doc = exc
        if digest:
            self._by_digest[digest] = doc
        else:
            alike.append((body, doc))
        return doc


class Read:
    """A source whose fetch parses what it reads at once, through one :class:`Bodies`."""

    def __init__(self, source: Source, bodies: Bodies) -> None:
        self.source = source
        self._bodies = bodies

    def __repr__(self) -> str:
        return f"Read({self.source!r})"

    async def fetch(self, bundle: str) -> bytes | Document:
        body = await self.source.fetch(bundle)
        if isinstance(body, Document):
            return body
        doc = self._bodies.parse(body)
        if isinstance(doc, InvalidDocument):
            raise Unparsable(str(doc))
        return doc

    async def apply(self, bundle: str, document: bytes) -> None:
        await self.source.apply(bundle, document)

    def staging(self) -> object:
        """The source's stager, if it stages (a rollback switches back through it)."""
        inner = getattr(self.source, "staging", None)
        return inner() if callable(inner) else None

    async def health(self) -> Health:
        return await self.source.health()

    async def close(self) -> None:
        await self.source.close()


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic GC while thousands of fetches are in flight.

    The objects alive then (inventory, views, responses) are long-lived or acyclic; letting the
    collector walk them on every generation-0 threshold cost ~25% of an audit of 1000 targets
    (performance.md). Whatever cycles the phase leaves are collected when it ends.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _probe(target: str) -> str:
    """The fetch-job name of a target's probe (no target name holds a '#')."""
    return f"{target}#probe"
