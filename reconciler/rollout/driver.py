"""One rollout step of an environment: observe, advance every bundle's rollout, act, persist, judge.

Every step persists each rollout before acting on it, and re-observes before believing anything,
so a process killed at any instant resumes where it was: an interrupted apply is retried after
its backoff, and a target counts as converged only once a fresh fetch shows the desired digest.
The step ends with the audit judged against the rollouts it just advanced (one verdict, given
once: :func:`reconciler.audit.verdict.judge`).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from ..audit.results import Audit, Survey
from ..audit.verdict import Recorded
from ..environment import EnvironmentRun
from ..model.canary import CanarySpec
from ..model.codes import AlertCondition
from ..model.inventory import Inventory, RolloutPolicy
from ..model.rollout import Phase, Quarantine, Rollout
from ..sources.registry import SourceOpener, open_source
from ..state.interface import StateStore
from . import bake, engine, evals, events, notes, steering, waits
from .act import Actor, Documents
from .canarying import Canarying, CanaryStep
from .desired import desired
from .execute import execute, statuses
from .notify import Notifier
from .observe import Observer, Sighting
from .recorded import note_staged
from .signed import Signed, unverified_notice
from .step import BundleStep, Step
from .writer import Writer

if TYPE_CHECKING:
    from .fleetsteps import FleetSteering

Clock = Callable[[], float]
#: One of :class:`Canarying`'s step or settle.
CanaryRun = Callable[[Survey, Rollout, CanarySpec, float], CanaryStep]


class Driver:
    """Runs the rollouts of one environment against its real targets.

    ``scope`` names one target: then applies, waits, verdicts and alerts concern that target
    only (``converge --target``), and its rollout lives for this driver only (the recorded
    rollout of the whole environment is left as it is).
    """

    def __init__(
        self,
        repo_root: Path,
        environment: str,
        store: StateStore,
        *,
        environ: Mapping[str, str] | None = None,
        revision: str | None = None,
        clock: Clock = time.time,
        user: str | None = None,
        files_root: Path | None = None,
        scope: str | None = None,
        opener: SourceOpener = open_source,
        writer: Writer | None = None,
        signed: Signed | None = None,
    ) -> None:
        #: The environment run every part of a step shares: where it reads, the inventory,
        #: the pooled repo, one event loop and one HTTP pool per step.
        self.run = EnvironmentRun(
            repo_root,
            environment,
            files_root=files_root,
            environ=environ,
            opener=opener,
            clock=clock,
        )
        self.store = store
        self.revision = revision
        self.user = user or self.environ.get("USER") or _login()
        self.scope = scope
        #: The environment's lease, when this driver writes (None: stepping is unguarded).
        self.writer = writer
        #: Only revisions whose signature verifies are applied (None: verification is off).
        self.signed = signed
        #: Newer revisions than the desired one whose signature did not verify: (sha, reason).
        self.unverified: list[tuple[str, str]] = []
        fence = self.fence
        self.observer = Observer(self.run, revision=revision)
        self.documents = Documents(self.repo_root)
        self.actor = Actor(self.run, store, self.documents, fence=fence)
        self.notifier = Notifier(environment, store, self.environ, scope=scope or "", fence=fence)
        if store.created:  # a lost store must not forget what was rolled back from
            self._restore_quarantines()
        self._scoped: dict[str, Rollout] = {}  #: the scoped run's own rollouts, by bundle
        self.canarying = Canarying(self.run, store, self.documents, fence=fence, repos=self.repos)
        #: The daemon's: switch the devices targets' manifests each step (None: a command's
        #: driver, whose ``converge`` switches them once the stores converged, §13).
        self.fleets: FleetSteering | None = None

    @property
    def repo_root(self) -> Path:
        return self.run.repo_root

    @property
    def files_root(self) -> Path:
        return self.run.files_root

    @property
    def environment(self) -> str:
        return self.run.environment

    @property
    def environ(self) -> dict[str, str]:
        return self.run.environ

    @property
    def clock(self) -> Clock:
        return self.run.clock

    def inventory(self) -> Inventory:
        """The environment's inventory (read once per step or command: :attr:`run`)."""
        return self.run.inventory()

    @property
    def repos(self) -> list[Path]:
        """The repositories quarantines are noted in (``git notes``)."""
        return [self.repo_root, self.files_root]

    def _restore_quarantines(self) -> None:
        known = {(q.bundle, q.digest) for q in self.store.quarantines(self.environment)}
        for q in notes.read(self.repos):
            if q.environment == self.environment and (q.bundle, q.digest) not in known:
                self.store.quarantine(q)

    def fence(self) -> None:
        """Before any write: still this environment's writer? (Deposed when not.)"""
        if self.writer is not None:
            self.writer.check()

    # -- observing -------------------------------------------------------------------------

    def moment(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.clock(), dt.UTC)

    def recorded(self, rollouts: Mapping[str, Rollout | None]) -> Recorded:
        """What the store knows now, with ``rollouts`` (by bundle) as the recorded ones."""
        return Recorded(
            rollouts=rollouts,
            quarantines=self.store.quarantines(self.environment),
            first_seen=self.store.first_seen(self.environment),
            unverified=tuple(self.unverified),
        )

    def stored(self, bundles: list[str]) -> dict[str, Rollout | None]:
        """The environment's recorded rollouts of ``bundles``."""
        return {b: self.store.load_rollout(self.environment, b) for b in bundles}

    def sight(self) -> Sighting:
        """Observe the environment (the scope only, for a scoped run), recording first sightings.

        With signed revisions on, the desired revision is the newest one whose signature
        verifies; newer ones are Unverified (said once each) and nothing of them is written.
        """
        now = self.moment()
        only = {self.scope} if self.scope else None
        revision = self._verified() if self.signed is not None else self.revision
        sighting = self.observer.sight(
            now, only=only, recorded=self.recorded({}), revision=revision
        )
        survey = sighting.survey
        if survey.desired_revision not in self.store.first_seen(self.environment):
            self.store.saw_revision(self.environment, survey.desired_revision, now.timestamp())
        return sighting

    def _verified(self) -> str:
        """The newest revision whose signature verifies; a newer one is said once, per commit."""
        assert self.signed is not None
        chosen = desired(self.repo_root, self.revision, self.signed)
        verified, self.unverified = chosen.revision, list(chosen.unverified)
        for sha, reason in self.unverified[:1]:  # the newest: what people just pushed
            sent = self.store.alerts(self.environment)
            if not any(
                a["condition"] == AlertCondition.UNVERIFIED and a["payload"].get("revision") == sha
                for a in sent
            ):
                notice = unverified_notice(sha, reason, verified)
                inventory = self.inventory()
                for bundle in inventory.bundles:
                    self.notifier.send(inventory, bundle, notice, self.clock(), sha)
        revision = chosen.require()
        assert revision is not None
        return revision

    def audit(self) -> Audit:
        """The judged audit as of now, stepping nothing (one event loop for all of it)."""
        with self.run.open():
            survey = self.sight().survey
            recorded = self.recorded(self.stored(survey.inventory.bundles))
        return survey.judged(recorded, self.clock())

    # -- stepping --------------------------------------------------------------------------

    def step(self) -> Step:
        """Observe every target, advance each bundle's rollout, act, persist, judge.

        With a writer, the lease is renewed first, and every write of the step is fenced by it.
        The whole step runs in one open :attr:`run`: the inventory read once, one event loop
        and one HTTP pool for its fetches, health checks, gate queries and writes.
        """
        with self.run.open():
            if self.writer is not None:
                self.writer.keep()
            self.resume_intents()
            sighting = self.sight()
            survey = sighting.survey
            steps = {b: self._step_bundle(sighting, b) for b in survey.inventory.bundles}
            if self.fleets is not None and self.scope is None:
                self.fleets.step(self, survey, steps, self.clock())
            rollouts = {b: s.rollout for b, s in steps.items()}
            if self.scope is not None:  # the scoped run's rollouts are its own, not the record
                rollouts = self.stored(list(steps))
            audit = survey.judged(self.recorded(rollouts), self.clock())
            note_staged(audit, self.store.staged_copies(self.environment))
            return Step(audit, steps, self.scope)

    def _step_bundle(self, sighting: Sighting, bundle: str) -> BundleStep:
        survey = sighting.survey
        now = self.clock()
        env = self.environment
        changed = self.store.record_statuses(env, bundle, statuses(survey, bundle), now)
        errors = {t.name: t.error for t in survey.targets}
        step = BundleStep(bundle, None)
        step.alert_errors += self.notifier.drift(
            survey.inventory, bundle, changed, errors, now, survey.desired_revision
        )
        held = self.store.quarantined(env, bundle, survey.desired[bundle].digest)
        if held is not None:
            return self._held(survey, step, held, now)
        current = self.current(sighting, bundle, now)
        policy = survey.inventory.rollout
        if policy.canary is not None and self.scope is not None:
            # converge --target: a person moves one target's group now, no canary (design §12).
            policy = policy.model_copy(update={"canary": None})
        if policy.canary is not None:
            current = self._canary(survey, step, self.canarying.step, current, now)
        waiting = self.awaiting_eval(survey, bundle)
        wait = waits.wait(self.repo_root, self.store, survey.inventory, current, now)
        seen = bake.observations(
            sighting, current, bundle, self.run, asking=not waiting, left=self.observer.left()
        )
        advanced, actions = engine.advance(
            current, policy, seen, now, awaiting_eval=waiting, wait=wait
        )
        log = events.between(current, advanced, actions)
        if log or advanced != current:  # a steady fleet's step writes nothing
            self.save(advanced, now, log)
        if advanced.phase is Phase.COMPLETE and current.phase is not Phase.COMPLETE:
            done = advanced.to_revision
            self.notifier.lifecycle(survey.inventory, bundle, "complete", done, now)
        step.rollout, step.actions = advanced, actions
        execute(self, survey, step, now)
        if policy.canary is not None and step.rollout is not None:
            step.rollout = self._canary(survey, step, self.canarying.settle, step.rollout, now)
        return step

    def _canary(
        self, survey: Survey, step: BundleStep, run: CanaryRun, rollout: Rollout, now: float
    ) -> Rollout:
        """The canary's part of the step (design §12.1): persisted before anything else."""
        spec = survey.inventory.rollout.canary
        assert spec is not None
        went = run(survey, rollout, spec, now)
        if went.rollout != rollout:
            self.save(went.rollout, now, events.between(rollout, went.rollout, went.notices))
        if went.errors:
            step.failed["release flag"] = "; ".join(went.errors)
        step.quarantined = step.quarantined or went.quarantined
        step.canary_weights += went.wrote
        for notice in went.notices:
            step.actions.append(notice)
            step.alert_errors += self.notifier.send(
                survey.inventory, step.bundle, notice, now, rollout.to_revision
            )
        return went.rollout

    def awaiting_eval(self, survey: Survey, bundle: str) -> str:
        """require_eval: why no wave of the desired digest may start ("" when one may)."""
        if not survey.inventory.rollout.require_eval:
            return ""
        return evals.awaiting(self.store, self.environment, survey.desired[bundle].digest)

    def _held(self, survey: Survey, step: BundleStep, held: Quarantine, now: float) -> BundleStep:
        """The desired digest is quarantined: write nothing, mark the rollout, tell once."""
        step.quarantined = held
        rollout = self._load(step.bundle)
        if rollout is not None and rollout.digest == survey.fleet_digest(step.bundle):
            marked = steering.quarantined(rollout, held)
            if marked.conditions != rollout.conditions:
                self.save(marked, now, events.between(rollout, marked, []))
            rollout = marked
        step.rollout = rollout
        step.alert_errors += self.notifier.quarantine(survey.inventory, held, now)
        return step

    def current(
        self, sighting: Sighting, bundle: str, now: float, *, persist: bool = True
    ) -> Rollout:
        """The rollout of the fleet's desired content: the recorded one, or a new one."""
        survey = sighting.survey
        rollout = self._load(bundle)
        digest = survey.fleet_digest(bundle)
        content = survey.desired[bundle].digest
        # A new bundle content is a new rollout even where no store carries the change (a
        # devices-only fleet, a model variant): an old one, aborted by a rollback, would hold it.
        if rollout is not None and rollout.digest == digest and rollout.content in ("", content):
            rollout.content = content
            return rollout
        started = engine.start(
            environment=self.environment,
            bundle=bundle,
            from_revision=rollout.to_revision if rollout else None,
            to_revision=survey.desired_revision,
            digest=digest,
            targets=[t.name for t in survey.inventory.targets],
            policy=self._policy(survey),
            now=now,
            before=sighting.before(bundle),
            content=content,
        )
        if persist:
            self.save(started, now, [events.started(started)])
            revision = started.to_revision
            self.notifier.lifecycle(survey.inventory, bundle, "deploying", revision, now)
            if rollout is not None and rollout.to_revision != revision:
                old = rollout.to_revision
                self.notifier.lifecycle(survey.inventory, bundle, "superseded", old, now)
        return started

    def _policy(self, survey: Survey) -> RolloutPolicy:
        policy = survey.inventory.rollout
        if self.scope is None:
            return policy
        # One target converges and is verified: no bakes to wait out after it.
        waves = [w.model_copy(update={"bake": 0.0}) for w in policy.waves]
        return policy.model_copy(update={"waves": waves})

    def _load(self, bundle: str) -> Rollout | None:
        if self.scope is not None:
            return self._scoped.get(bundle)
        return self.store.load_rollout(self.environment, bundle)

    def save(self, rollout: Rollout, now: float, log: list[events.Event]) -> None:
        if self.scope is not None:
            self._scoped[rollout.bundle] = rollout
            for kind, data in log:
                self.store.record_event(self.environment, kind, {**data, "scope": self.scope}, now)
            return
        self.store.save_rollout(rollout, now, log)

    def resume_intents(self) -> list[str]:
        """Re-issue every switch of the intents a writer left unfinished (it died, or lost its
        lease, between the first switch of a group and the last); say what was finished."""
        intents = self.store.unfinished_intents(self.environment)
        if not intents:
            return []
        return self.actor.resume(self.inventory(), intents)


def _login() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown user"
