"""The audit: fetch every target, classify each bundle it carries, collect findings.

This module wires the pure cores (render, observation, classify, diff, ignore) to git and the
sources; it prints nothing (formats live in :mod:`reconciler.report`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from ..bundle.snapshot import Snapshot, snapshot
from ..collector import gc_paused
from ..diff import ignore as ignoring
from ..diff.findings import model_pin_findings
from ..environment import EnvironmentRun
from ..errors import ConfigError
from ..model.codes import FindingCode, Level
from ..sources.interface import (
    Source,
)
from ..statedir import cache_dir
from .bodies import Bodies
from .devices import Reading, check_fleets, judge_target, read_devices
from .fetch import Fetcher, Result, fetch_all
from .findings import fleet_findings, loaded, torn_findings
from .judgement import Judgement, judged
from .reader import Read
from .results import Audit, Finding, Survey, TargetResult
from .verdict import Recorded
from .views import Views

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
        #: Keep devices targets apart (a rollout writes them through their manifests, §13):
        #: the survey's targets and inventory are the stores only, its ``fleets`` the devices
        #: targets, observed all the same and shown in the judged audit.
        self.stores_only = stores_only

    def run(
        self,
        now: dt.datetime | None = None,
        progress: Callable[[int], Callable[[], None]] | None = None,
    ) -> Audit:
        """Observe every target, then judge each bundle as of ``now`` with what was recorded."""
        now = now or dt.datetime.now(dt.UTC)
        survey = self.survey(now, progress)
        with gc_paused():  # thousands of results made again, none of them cyclic
            return survey.judged(self.recorded, now.timestamp())

    def survey(
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
            if self.stores_only:
                survey.set_fleets_apart()
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
                        Level.WARNING,
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
        shared: dict[tuple[int, int], Judgement] = {}
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
                    context = (seen[(target.name, bundle)], histories[bundle], stamp, shared)
                    result = judged(target, bundle, raw[(target.name, bundle)], *context, findings)
                    if target.probe is not None:
                        process = judged(
                            target, bundle, raw[(_probe(target.name), bundle)], *context, []
                        )
                        loaded(result, process, git.tags)
                    bundles.append(result)
                results.append(TargetResult(target, bundles))
            del raw, shared
        findings += fleet_findings(results)
        findings += torn_findings(results, git.tags)
        for bundle in inventory.bundles:
            components = histories[bundle].desired_render(None).components
            findings += [
                Finding(Level.WARNING, code, message, bundle=bundle)
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


def _probe(target: str) -> str:
    """The fetch-job name of a target's probe (no target name holds a '#')."""
    return f"{target}#probe"
