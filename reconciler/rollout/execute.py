"""Carrying out one bundle's step: write the targets the engine asked for (with their groups),
say how each group switch went, send the step's notices, and roll back on a stall.

What was decided comes from the pure engine (:func:`reconciler.rollout.engine.advance`); this
is its I/O side for :class:`~reconciler.rollout.driver.Driver`, which persists every rollout
changed here (``save``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from ..audit.results import Survey
from ..model.rollout import Apply, Notify, Quarantine, Revert, Rollout
from ..state.interface import StateStore
from . import events, groups, notes, steering, switchback
from .act import Actor
from .notify import Notifier
from .step import BundleStep


class Driver(Protocol):
    """What carrying out a step needs of :class:`~reconciler.rollout.driver.Driver`."""

    actor: Actor
    notifier: Notifier
    store: StateStore

    @property
    def environment(self) -> str: ...

    @property
    def repos(self) -> list[Path]: ...

    def save(self, rollout: Rollout, now: float, log: list[events.Event]) -> None: ...


def execute(driver: Driver, survey: Survey, step: BundleStep, now: float) -> None:
    """Write what ``step``'s actions ask, then send its notices and carry out its reverts."""
    inventory = survey.inventory
    rollout = step.rollout
    assert rollout is not None
    asked = [a.target for a in step.actions if isinstance(a, Apply)]
    seen = statuses(survey, step.bundle)
    status = {t: s for t, (s, _) in seen.items()}
    applies, step.came_along = groups.with_groups(inventory.targets, asked, status)
    before = {t: seen[t][1] if t in seen else None for t in applies}
    failed = driver.actor.write(inventory, step.bundle, survey.desired_revision, applies, before)
    _switched(driver, survey, step, now)
    step.written += [t for t in applies if t not in failed]
    step.failed.update({t: str(e) for t, e in failed.items()})
    for action in list(step.actions):
        if isinstance(action, Notify):
            step.alert_errors += driver.notifier.send(
                inventory, step.bundle, action, now, rollout.to_revision
            )
        elif isinstance(action, Revert):
            _revert(driver, survey, step, action, now)


def _switched(driver: Driver, survey: Survey, step: BundleStep, now: float) -> None:
    """Say how each group switch went: its torn window; a switch that went back whole
    (``SwitchReverted`` and an alert) or could not (an alert naming the torn group)."""
    rollout = step.rollout
    assert rollout is not None
    for outcome in driver.actor.outcomes:
        if len(outcome.parts) < 2 or outcome.outcome == "stage_failed":
            continue
        step.switches.append((outcome.group, outcome.outcome, outcome.torn_seconds))
        if outcome.outcome not in ("reverted", "torn"):
            continue
        marked = switchback.reverted(rollout, outcome.group, outcome.reason, now)
        driver.save(marked, now, [("switch_reverted", {"group": outcome.group})])
        step.rollout = rollout = marked
        notice = switchback.notice(outcome.group, outcome.outcome, outcome.reason, outcome.parts)
        step.actions.append(notice)
        step.alert_errors += driver.notifier.send(
            survey.inventory, step.bundle, notice, now, rollout.to_revision
        )
    if any(o == "switched" for _, o, _ in step.switches):
        cleared = switchback.cleared(rollout, now)
        if cleared is not rollout:
            driver.save(cleared, now, [])
            step.rollout = cleared


def _revert(driver: Driver, survey: Survey, step: BundleStep, action: Revert, now: float) -> None:
    """``on_stall: rollback``: write each target's before revision, then say how it went."""
    rollout = step.rollout
    assert rollout is not None
    failed = driver.actor.revert(survey.inventory, step.bundle, action.targets)
    step.written += [t for t, _ in action.targets if t not in failed]
    step.failed.update({t: str(e) for t, e in failed.items()})
    why = {t: f"apply failed: {e}" for t, e in failed.items()}
    after, notices = steering.reverted(rollout, why, now)
    driver.save(after, now, events.between(rollout, after, notices))
    step.rollout = after
    step.actions += notices
    for notice in notices:
        step.alert_errors += driver.notifier.send(
            survey.inventory, step.bundle, notice, now, rollout.to_revision
        )
    if not failed:
        back = {revision for _, revision in action.targets}
        held = Quarantine(
            driver.environment,
            step.bundle,
            survey.desired[step.bundle].digest,
            rollout.to_revision,
            now,
            f"reconciler ({action.why})",
            back.pop() if len(back) == 1 else None,
        )
        driver.store.quarantine(held)
        notes.record(driver.repos, held)


def statuses(survey: Survey, bundle: str) -> dict[str, tuple[str, str | None]]:
    """Each target's status of ``bundle`` and the revision it was observed at."""
    out = {}
    for target in survey.targets:
        for result in target.bundles:
            if result.bundle == bundle:
                out[target.name] = (str(result.status), result.observed_revision)
    return out
