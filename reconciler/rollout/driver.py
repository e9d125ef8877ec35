"""The rollout driver: observe (audit + health), advance the engine, act, persist — one step.

Every step persists the rollout before acting, and re-observes before believing anything, so a
process killed at any instant resumes where it was: an interrupted apply is simply retried after
its backoff, and a target counts as converged only once a fresh fetch shows the desired digest.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from ..audit import Auditor, gc_paused
from ..classify import Status
from ..config.inventory import load_inventory
from ..errors import ReconcilerError
from ..fetch import bounded
from ..gitrepo import GitFiles, GitRepo
from ..model.inventory import Inventory
from ..render import overlay_path, render
from ..results import Audit, TargetResult
from ..sources.interface import Health, SourceError
from ..state.interface import Quarantine, StateStore
from ..statedir import cache_dir
from . import engine
from .authority import fleet_digest
from .model import Action, Apply, Notify, Observation, Phase, Revert, Rollout

Clock = Callable[[], float]


@dataclass
class BundleStep:
    """What one step did for one bundle."""

    bundle: str
    rollout: Rollout | None
    actions: list[Action] = field(default_factory=list)
    quarantined: Quarantine | None = None
    errors: list[str] = field(default_factory=list)

    @property
    def blocked(self) -> bool:
        """Cannot progress without a person (or a new commit)."""
        if self.quarantined is not None:
            return True
        r = self.rollout
        return r is not None and (r.stalled or r.phase in (Phase.PAUSED, Phase.ABORTED))

    @property
    def complete(self) -> bool:
        r = self.rollout
        return self.quarantined is None and r is not None and r.phase is Phase.COMPLETE


@dataclass
class Step:
    """One observe-advance-act cycle of an environment."""

    audit: Audit
    bundles: dict[str, BundleStep]

    @property
    def complete(self) -> bool:
        return all(b.complete for b in self.bundles.values()) and all(
            t.status is Status.IN_SYNC for t in self.audit.targets
        )

    @property
    def blocked(self) -> bool:
        return any(b.blocked for b in self.bundles.values())


class RolledBack(NamedTuple):
    """What ``rollback`` did: exit code, the verifying audit, seconds, what it failed to do."""

    code: int
    audit: Audit
    elapsed: float
    unwritten: dict[str, str]  #: target -> why its write failed
    alerts: list[str]  #: alerts that could not be sent


class Driver:
    """Runs rollouts of one environment against its real targets."""

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
    ) -> None:
        self.repo_root = repo_root.resolve()
        self.files_root = (files_root or repo_root).resolve()
        self.environment = environment
        self.store = store
        self.environ = dict(os.environ if environ is None else environ)
        self.revision = revision
        self.clock = clock
        self.user = user or self.environ.get("USER") or _login()
        self.only: str | None = None  #: apply to this target only (``converge --target``)

    # -- observing -------------------------------------------------------------------------

    def audit(self, revision: str | None = None) -> Audit:
        return self._auditor(revision).run(now=self._moment())

    def _auditor(self, revision: str | None = None) -> Auditor:
        return Auditor(
            self.repo_root,
            self.environment,
            revision=revision or self.revision,
            environ=self.environ,
            files_root=self.files_root,
        )

    def _moment(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.clock(), dt.UTC)

    def observations(self, audit: Audit, bundle: str) -> dict[str, Observation]:
        checks = self._health(audit.inventory)
        seen = {}
        for target in audit.targets:
            result = next(b for b in target.bundles if b.bundle == bundle)
            converged = result.status is Status.IN_SYNC
            reason = "" if converged else _reason(target, result.status, result.error)
            health = checks.get(target.name, converged)
            seen[target.name] = Observation(converged, reason, health)
        return seen

    def _health(self, inventory: Inventory) -> dict[str, bool]:
        """Run every target's own health check (targets without one are left out)."""
        checked = [t for t in inventory.targets if t.health is not None]
        if not checked:
            return {}

        async def run() -> dict[str, bool]:
            from ..sources.registry import SourceContext, open_source

            async with SourceContext(self.files_root, self.environ) as ctx:
                results = await bounded(checked, lambda t: open_source(t, ctx).health())
            return {
                t.name: isinstance(r, Health) and r.ok
                for t, r in zip(checked, results, strict=True)
            }

        return asyncio.run(run())

    # -- stepping --------------------------------------------------------------------------

    def step(self) -> Step:
        """Observe every target, advance each bundle's rollout, act, persist."""
        audit = self.audit()
        steps = {b: self._step_bundle(audit, b) for b in audit.inventory.bundles}
        return Step(audit, steps)

    def _step_bundle(self, audit: Audit, bundle: str) -> BundleStep:
        now = self.clock()
        env = self.environment
        changed = self.store.observe_targets(env, bundle, _statuses(audit, bundle), now)
        self._drift_alerts(audit, bundle, changed, now)
        base = audit.desired[bundle].digest
        held = self.store.quarantined(env, bundle, base)
        rollout = self.store.load_rollout(env, bundle)
        if held is not None:
            self._notify_quarantine(audit, bundle, held, now)
            return BundleStep(bundle, rollout, quarantined=held)
        policy = audit.inventory.rollout
        planned = self.plan(audit, bundle, now)
        if rollout is None or planned.digest != rollout.digest:
            self.store.save_rollout(planned, now, [("rollout_started", _summary(planned))])
        rollout = planned
        advanced, actions = engine.advance(rollout, policy, self.observations(audit, bundle), now)
        self.store.save_rollout(advanced, now, _events(rollout, advanced, actions))
        step = BundleStep(bundle, advanced, actions)
        self._act(audit, step, now)
        return step

    def _drift_alerts(
        self, audit: Audit, bundle: str, changed: list[tuple[str, str | None, str]], now: float
    ) -> None:
        """Out-of-band drift is its own alert: firing when a target drifts, resolved after."""
        errors = {t.name: t.error for t in audit.targets}
        for target, was, status in changed:
            if status == "drifted":
                notice = Notify(
                    "drifted",
                    "firing",
                    ((target, "changed out of band"),),
                    f"{target} was changed out of band",
                )
            elif was == "drifted":
                notice = Notify(
                    "drifted",
                    "resolved",
                    ((target, status),),
                    f"{target} is {status} now"
                    + (f" ({errors[target]})" if errors.get(target) else ""),
                )
            else:
                continue
            self.notify(audit.inventory, bundle, notice, now)

    def plan(self, audit: Audit, bundle: str, now: float) -> Rollout:
        """The current rollout, or a new one when the fleet's desired content changed."""
        rollout = self.store.load_rollout(self.environment, bundle)
        digest = fleet_digest(audit, bundle)
        if rollout is not None and rollout.digest == digest:
            return rollout
        return engine.start(
            environment=self.environment,
            bundle=bundle,
            from_revision=rollout.to_revision if rollout else None,
            to_revision=audit.desired_revision,
            digest=digest,
            targets=[t.name for t in audit.inventory.targets],
            policy=audit.inventory.rollout,
            now=now,
        )

    # -- acting ----------------------------------------------------------------------------

    def _act(self, audit: Audit, step: BundleStep, now: float) -> None:
        applies = [
            a.target
            for a in step.actions
            if isinstance(a, Apply) and (self.only is None or a.target == self.only)
        ]
        if applies:
            step.errors += self.apply(audit.inventory, step.bundle, audit.desired_revision, applies)
        for action in step.actions:
            if isinstance(action, Notify):
                step.errors += self.notify(audit.inventory, step.bundle, action, now)
            elif isinstance(action, Revert) and step.rollout is not None:
                step.errors += self._revert(audit, step.rollout, action, now)

    def apply(
        self, inventory: Inventory, bundle: str, revision: str, targets: list[str]
    ) -> list[str]:
        """Write ``revision``'s render to ``targets`` concurrently; return one-line errors."""
        specs = {t.name: t for t in inventory.targets}
        documents = self._documents(bundle, revision, targets)

        async def run() -> list[SourceError | None]:
            from ..sources.registry import SourceContext, open_source

            async with SourceContext(self.files_root, self.environ) as ctx:
                return await bounded(
                    targets, lambda t: open_source(specs[t], ctx).apply(bundle, documents[t])
                )

        with gc_paused():
            outcomes = asyncio.run(run())
        failed = {
            target: outcome
            for target, outcome in zip(targets, outcomes, strict=True)
            if outcome is not None
        }
        return self._record_applies(bundle, revision, targets, failed)

    def _record_applies(
        self, bundle: str, revision: str, targets: list[str], failed: Mapping[str, SourceError]
    ) -> list[str]:
        errors = {t: f"{t}: apply failed: {failed[t]}" for t in targets if t in failed}
        self.store.record_applies(
            self.environment,
            bundle,
            revision,
            self.clock(),
            [(t, "error" if t in errors else "ok", errors.get(t)) for t in targets],
        )
        return list(errors.values())

    def _documents(self, bundle: str, revision: str, targets: list[str]) -> dict[str, bytes]:
        repo = GitRepo(self.repo_root)
        try:
            sha = repo.commit(revision).hexsha
            files = GitFiles(repo, sha)
            base = render(files, bundle, sha).to_bytes()  # shared by every target without overlay
            documents = {}
            for target in targets:
                try:
                    files.read(overlay_path(bundle, target))
                except FileNotFoundError:
                    documents[target] = base
                    continue
                documents[target] = render(files, bundle, sha, target).to_bytes()
            return documents
        finally:
            repo.close()

    def notify(
        self,
        inventory: Inventory,
        bundle: str,
        action: Notify,
        now: float,
        revision: str | None = None,
    ) -> list[str]:
        """Send an alert to every webhook and record it (the payload, never the URL)."""
        from ..alerts import Alert, deliver

        if revision is None:
            rollout = self.store.load_rollout(self.environment, bundle)
            revision = rollout.to_revision if rollout else None
        alert = Alert(
            environment=self.environment,
            bundle=bundle,
            condition=action.condition,
            state=action.state,
            revision=revision,
            targets=action.targets,
            message=action.message,
        )
        errors = deliver(alert, inventory.alerts, self.environ) if inventory.alerts else []
        self.store.record_alert(
            self.environment, bundle, action.condition, action.state, now, alert.payload()
        )
        return errors

    def _notify_quarantine(self, audit: Audit, bundle: str, held: Quarantine, now: float) -> None:
        """Say once that the desired content is quarantined (and why nothing is applied)."""
        for sent in self.store.alerts(self.environment):
            if (sent["bundle"], sent["condition"]) == (bundle, "quarantined") and sent[
                "payload"
            ].get("revision") == held.revision:
                return
        message = (
            f"desired content of {bundle} was rolled back from at {held.revision[:12]} by "
            f"{held.by}; nothing is applied until it changes or `reconciler rollout resume` "
            "lifts the quarantine"
        )
        notice = Notify("quarantined", "firing", (), message)
        self.notify(audit.inventory, bundle, notice, now, revision=held.revision)

    def _revert(self, audit: Audit, rollout: Rollout, action: Revert, now: float) -> list[str]:
        if rollout.from_revision is None or not action.targets:
            return []
        errors = self.apply(
            audit.inventory, rollout.bundle, rollout.from_revision, list(action.targets)
        )
        self.store.quarantine(
            Quarantine(
                self.environment,
                rollout.bundle,
                audit.desired[rollout.bundle].digest,
                rollout.to_revision,
                now,
                "reconciler (on_stall)",
            )
        )
        return errors

    # -- commands --------------------------------------------------------------------------

    def converge(
        self,
        timeout: float | None,
        sleep: Callable[[float], None] = time.sleep,
        poll: float = 0.5,
        on_step: Callable[[Step], None] | None = None,
    ) -> tuple[int, Step]:
        """Step until complete (0) or blocked or out of time (2)."""
        started = self.clock()
        while True:
            step = self.step()
            if on_step is not None:
                on_step(step)
            if step.complete:
                return 0, step
            if step.blocked:
                return 2, step
            budget = _budget(timeout, started, self.clock())
            if budget is not None and budget <= 0:
                return 2, step
            sleep(poll if budget is None else min(poll, budget))

    def rollback(self, to: str) -> RolledBack:
        """Put ``to`` on every target at once, verify by re-fetching, quarantine desired."""
        repo = GitRepo(self.repo_root)
        try:
            desired = repo.commit(self.revision or "HEAD").hexsha
            target_sha = repo.commit(to).hexsha
        finally:
            repo.close()
        if target_sha == desired:
            raise ReconcilerError(f"--to {to} is the desired revision: nothing to roll back")
        started = time.perf_counter()
        inventory = load_inventory(self.repo_root, self.environment, cache_dir(self.repo_root))
        now = self.clock()
        names = [t.name for t in inventory.targets]
        # Each target is written and re-fetched by the same worker in one pass: the verifying
        # audit is the rollback itself, not a second trip over the fleet.
        auditor = self._auditor(target_sha)
        auditor.apply_first = {
            (target, bundle): document
            for bundle in inventory.bundles
            for target, document in self._documents(bundle, target_sha, names).items()
        }
        after = auditor.run(now=self._moment())
        elapsed = time.perf_counter() - started
        for bundle in inventory.bundles:
            failed = {t: e for (t, b), e in auditor.apply_errors.items() if b == bundle}
            self._record_applies(bundle, target_sha, names, failed)
        unwritten = {t: f"apply failed: {e}" for (t, _), e in auditor.apply_errors.items()}
        alerts: list[str] = []  # an alert that fails is said, but the rollback is done
        for bundle in inventory.bundles:
            bad = self._desired_digest(bundle, desired)
            self.store.quarantine(
                Quarantine(self.environment, bundle, bad, desired, now, self.user)
            )
            rollout = self.store.load_rollout(self.environment, bundle)
            if rollout is not None and rollout.phase is not Phase.ABORTED:
                event = ("rolled_back", {"bundle": bundle, "to": target_sha})
                alerts += self.abort(inventory, rollout, f"{self.user} (rollback)", now, event)
        # Done when every target re-fetches REV: a write that failed where the target holds
        # REV anyway (another writer put it there) does not undo that.
        verified = all(t.status is Status.IN_SYNC for t in after.targets)
        return RolledBack(0 if verified else 2, after, elapsed, unwritten, alerts)

    def abort(
        self,
        inventory: Inventory,
        rollout: Rollout,
        by: str,
        now: float,
        event: tuple[str, dict[str, object]],
    ) -> list[str]:
        """Abort ``rollout``, persist it with ``event``, resolve the alerts it raised."""
        aborted, actions = engine.abort(rollout, by, now)
        self.store.save_rollout(aborted, now, [event])
        errors: list[str] = []
        for action in actions:
            if isinstance(action, Notify):
                errors += self.notify(inventory, rollout.bundle, action, now, rollout.to_revision)
        return errors

    def _desired_digest(self, bundle: str, revision: str) -> str:
        repo = GitRepo(self.repo_root)
        try:
            return render(GitFiles(repo, revision), bundle, revision).digest
        finally:
            repo.close()


def _budget(timeout: float | None, started: float, now: float) -> float | None:
    if timeout is None:
        return None
    return started + timeout - now


def _reason(target: TargetResult, status: Status, error: str | None) -> str:
    if status is Status.LAGGING:
        return "not converged (lagging)"
    return f"{status}: {error}" if error else str(status)


def _statuses(audit: Audit, bundle: str) -> dict[str, tuple[str, str | None]]:
    out = {}
    for target in audit.targets:
        for result in target.bundles:
            if result.bundle == bundle:
                out[target.name] = (str(result.status), result.observed_revision)
    return out


def _summary(rollout: Rollout) -> dict[str, object]:
    return {
        "bundle": rollout.bundle,
        "from": rollout.from_revision,
        "to": rollout.to_revision,
        "waves": rollout.waves,
    }


def _events(old: Rollout, new: Rollout, actions: list[Action]) -> list[tuple[str, dict]]:
    events: list[tuple[str, dict]] = []
    if old.phase is not new.phase:
        events.append(
            ("phase", {"bundle": new.bundle, "from": str(old.phase), "to": str(new.phase)})
        )
    if old.wave != new.wave:
        events.append(("wave", {"bundle": new.bundle, "wave": new.wave}))
    for kind, condition in new.conditions.items():
        before = old.conditions.get(kind)
        if before is None or before.since != condition.since:
            events.append(
                (
                    "condition",
                    {
                        "bundle": new.bundle,
                        "type": kind,
                        "status": condition.status,
                        "reason": condition.reason,
                        "message": condition.message,
                    },
                )
            )
    for kind in old.conditions.keys() - new.conditions.keys():
        events.append(("condition_cleared", {"bundle": new.bundle, "type": kind}))
    for action in actions:
        if isinstance(action, Notify):
            events.append(
                (
                    "alert",
                    {"bundle": new.bundle, "condition": action.condition, "state": action.state},
                )
            )
        elif isinstance(action, Apply):
            events.append(("apply", {"bundle": new.bundle, "target": action.target}))
    return events


def _login() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown user"
