"""The I/O of a rollout's traffic canary (design §12.1): read the release flag's baseline, stage
the new digest in every group, write the flag (one write a step), read the judge's samples from
Prometheus, quarantine a failed canary's digest. What to do, and what it means, is decided by
:mod:`.canary_steps` (pure); this module only carries it out and hands back what it found."""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..audit.results import Survey
from ..canary.flag import Release, release_strategy
from ..canary.judge import Counts, Samples, judge
from ..canary.rules import rules_of
from ..environment import EnvironmentRun
from ..gates.canary_samples import read_samples
from ..gates.prometheus import QueryFailed
from ..model.canary import CanarySpec
from ..model.canary_progress import CanaryState
from ..model.inventory import Inventory
from ..model.rollout import Notify, Quarantine, Rollout
from ..sources.interface import SourceError
from ..sources.registry import SourceContext
from ..sources.unleash import UnleashSource, open_unleash
from ..state.interface import StateStore
from . import canary_steps, notes
from .act import Documents
from .canary_steps import Need
from .switching import Group, Part, Switcher


@dataclass
class CanaryStep:
    """What the canary did this step: the rollout after it, alerts owed, and errors."""

    rollout: Rollout
    notices: list[Notify] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    wrote: list[int] = field(default_factory=list)  #: the weights written, in order
    quarantined: Quarantine | None = None


class Canarying:
    """Carries out one environment's canary steps against its release flag and Prometheus."""

    def __init__(
        self,
        run: EnvironmentRun,
        store: StateStore,
        documents: Documents,
        *,
        fence: Callable[[], None],
        repos: list[Path],
    ) -> None:
        self.run = run  #: the step's event loop and HTTP pool
        self.environment = run.environment
        self.store = store
        self.documents = documents
        self.environ = run.environ
        self.fence = fence
        self.repos = repos

    def step(self, survey: Survey, rollout: Rollout, spec: CanarySpec, now: float) -> CanaryStep:
        """Everything the canary of ``rollout`` asks this step, in order (a stage and the
        step's flag write go together; a failing look writes weight 0 at once)."""
        done = CanaryStep(rollout)
        if rollout.canary is None:
            try:
                baseline = self._baseline(survey.inventory, rollout.bundle, spec)
            except SourceError as exc:
                done.errors.append(f"release flag: {exc}")
                return done
            progress = canary_steps.begin(spec, survey.desired[rollout.bundle].digest, baseline)
            done.rollout = copy.deepcopy(rollout)
            done.rollout.canary = progress
        for _ in range(4):  # stage, write; or look, zero
            need = canary_steps.need(done.rollout, spec, now)
            if need in (Need.NOTHING, Need.SETTLE):
                break
            if not self._do(need, survey, spec, done, now):
                break
        return done

    def settle(self, survey: Survey, rollout: Rollout, spec: CanarySpec, now: float) -> CanaryStep:
        """After the last group switched: both payloads name the rollout's digest, weight 0
        (the first rollout of a bundle creates the flag so)."""
        done = CanaryStep(rollout)
        if canary_steps.need(rollout, spec, now) is not Need.SETTLE:
            return done
        assert rollout.canary is not None
        release = Release(rollout.canary.canary, rollout.to_revision)
        if self._write(survey.inventory, rollout, spec, release, release, 0, done):
            done.rollout = canary_steps.settled(rollout)
        return done

    # -- the steps ---------------------------------------------------------------------------

    def _do(
        self, need: Need, survey: Survey, spec: CanarySpec, done: CanaryStep, now: float
    ) -> bool:
        r = done.rollout
        c = r.canary
        assert c is not None
        inventory = survey.inventory
        if need is Need.STAGE:
            failure = self._stage(inventory, r, now)
            done.rollout = canary_steps.staged(r, failure, now)
            return not failure
        stable = Release(c.stable or c.canary, c.stable_revision)
        canary = Release(c.canary, r.to_revision)
        if need in (Need.WRITE, Need.ZERO):
            weight = canary_steps.step_weight(c) if need is Need.WRITE else 0
            if not self._write(inventory, r, spec, stable, canary, weight, done):
                return False
            done.rollout = canary_steps.written(r, weight, now)
            if need is Need.ZERO and c.state is CanaryState.FAILED:
                done.quarantined = self._quarantine(survey, done.rollout, now)
            return False
        assert c.written_at is not None and inventory.analysis is not None
        try:
            samples = self.run.call(
                read_samples(
                    inventory.analysis.prometheus,
                    self.environ,
                    spec.judge,
                    bundle=r.bundle,
                    environment=self.environment,
                    canary=c.canary,
                    stable=stable.digest,
                    start=c.written_at,
                    end=now,
                    client=self.run.sources.http,
                )
            )
        except QueryFailed as exc:
            done.errors.append(f"canary judge: {exc}")
            return False
        rules = rules_of(spec.judge)
        verdict = judge(
            rules,
            samples,
            alpha=spec.judge.alpha,
            steps=len(spec.steps),
            min_samples=spec.judge.min_samples,
        )
        done.rollout, notices = canary_steps.looked(r, verdict, served_share(samples), now)
        done.notices += notices
        return verdict.decision == "abort"

    def _stage(self, inventory: Inventory, r: Rollout, now: float) -> str:
        """Stage the new digest on every target, group by group; "" or why not."""
        specs = {t.name: t for t in inventory.targets}
        names = [n for n in r.targets if n in specs]
        docs = self.documents.for_targets(r.bundle, r.to_revision, names)
        groups: dict[str, Group] = {}
        for name in names:
            key = specs[name].group or f"\0{name}"
            groups.setdefault(key, Group(key.lstrip("\0"), [])).parts.append(
                Part(specs[name], docs[name])
            )

        async def run() -> list[tuple[str, list[tuple[str, str]]]]:
            switcher = Switcher(self.run.sources, self.run.opener, fence=self.fence)
            self.fence()
            outcomes = await asyncio.gather(
                *(switcher.stage_group(r.bundle, g) for g in groups.values())
            )
            return [(o.reason, o.staged) for o in outcomes]

        found = self.run.call(run())
        staged = [pair for _, pairs in found for pair in pairs]
        if staged:
            self.store.record_staged(self.environment, r.bundle, staged, now)
        failures = sorted(reason for reason, _ in found if reason)
        return failures[0] if failures else ""

    def _write(
        self,
        inventory: Inventory,
        r: Rollout,
        spec: CanarySpec,
        stable: Release,
        canary: Release,
        weight: int,
        done: CanaryStep,
    ) -> bool:
        """One write of the release flag; False (and the error said) when it failed."""
        name = flag_name(spec, r.bundle)
        strategy = release_strategy(name, spec.stickiness, stable, canary, weight)
        stamp = f"bundle {r.bundle}, revision {r.to_revision}, canary weight {weight}/1000"

        async def run() -> None:
            source = self._flags(inventory, spec, self.run.sources)
            self.fence()
            await source.write_release(name, strategy, stamp)

        try:
            self.run.call(run())
        except SourceError as exc:
            done.errors.append(f"release flag {name}: {exc}")
            return False
        done.wrote.append(weight)
        return True

    def _baseline(
        self, inventory: Inventory, bundle: str, spec: CanarySpec
    ) -> tuple[str, str | None] | None:
        """What the release flag's ``stable`` variant serves (None: no flag yet)."""
        name = flag_name(spec, bundle)

        async def run() -> list[dict[str, object]] | None:
            return await self._flags(inventory, spec, self.run.sources).release_variants(name)

        variants = self.run.call(run())
        for variant in variants or []:
            if variant.get("name") == "stable":
                try:
                    value = json.loads(str((variant.get("payload") or {})["value"]))  # type: ignore[index]
                    return str(value["digest"]), value.get("revision")
                except (KeyError, TypeError, ValueError):
                    raise SourceError(f"{name}: the stable variant names no digest") from None
        return None

    def _flags(self, inventory: Inventory, spec: CanarySpec, ctx: SourceContext) -> UnleashSource:
        target = next(t for t in inventory.targets if t.name == spec.release_flag.target)
        return open_unleash(target.source, target, ctx)  # type: ignore[arg-type]

    def _quarantine(self, survey: Survey, r: Rollout, now: float) -> Quarantine:
        """The failed canary's digest is never applied again until the bundle changes."""
        held = Quarantine(
            self.environment,
            r.bundle,
            survey.desired[r.bundle].digest,
            r.to_revision,
            now,
            "reconciler (canary failed)",
            r.canary.stable_revision if r.canary else None,
        )
        self.store.quarantine(held)
        notes.record(self.repos, held)
        return held


def flag_name(spec: CanarySpec, bundle: str) -> str:
    """The release flag's feature name (``{bundle}.release`` by default)."""
    return spec.release_flag.name.replace("{bundle}", bundle)


def served_share(samples: Samples) -> float | None:
    """The share of requests the canary served, from the first proportion metric's trials."""
    for segments in samples.values():
        pairs = list(segments.values())
        if pairs and all(isinstance(p.canary, Counts) for p in pairs):
            canary = sum(p.canary.size for p in pairs)
            total = canary + sum(p.stable.size for p in pairs)
            return canary / total if total > 0 else None
    return None
