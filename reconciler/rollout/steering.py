"""What a person (or a finished rollback) does to a rollout: pause, resume, abort, roll back,
quarantine — each a pure function from one rollout to the next, and the notices it owes.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping

from ..model.rollout import (
    ConditionType,
    Notify,
    Pause,
    Phase,
    Quarantine,
    Reason,
    Rollout,
)
from ..revisions import revision_label
from . import canary_steps
from .conditions import RECONCILER, set_condition, update


def reverted(
    rollout: Rollout, failed: Mapping[str, str], now: float
) -> tuple[Rollout, list[Notify]]:
    """Take in the outcome of a :class:`Revert`: every write done ends the rollout RolledBack.

    A failed write keeps it Stalled with the reason RollbackFailed; the next step tries again.
    """
    if failed:
        r = copy.deepcopy(rollout)
        parts = "; ".join(f"{name}: {why}" for name, why in sorted(failed.items()))
        message = f"rollback failed on {parts}; retried every step"
        actions: list[Notify] = []
        if r.rollback_reason != Reason.ROLLBACK_FAILED:
            actions.append(
                Notify("rollback_failed", "firing", tuple(sorted(failed.items())), message)
            )
        r.rollback_reason, r.rollback_message = Reason.ROLLBACK_FAILED, message
        update(r, now)
        return r, actions
    stall = rollout.conditions.get(ConditionType.STALLED)
    after = f" after: {stall.message}" if stall else ""
    if not stall and rollout.pause is not None and rollout.pause.cause:  # a bake gate asked
        after = f" after: {rollout.pause.reason}"
    ready, notice = f"rolled back{after}", f"it was rolled back{after}"
    return _end(rollout, Reason.ROLLED_BACK, ready, notice, now)


def pause(rollout: Rollout, by: str, reason: str, now: float) -> Rollout:
    """A person pauses the rollout (the progress deadline keeps running)."""
    r = copy.deepcopy(rollout)
    if r.phase in (Phase.COMPLETE, Phase.ABORTED):
        return r
    r.pause = Pause(by, reason, now)
    r.phase = Phase.PAUSED
    return r


def resume(rollout: Rollout, now: float) -> Rollout:
    """Lift a pause, a quarantine mark, or restart an aborted rollout; a person acting counts
    as progress."""
    r = canary_steps.resumed(rollout)
    r.conditions.pop(ConditionType.QUARANTINED, None)
    if r.phase in (Phase.PAUSED, Phase.ABORTED):
        if r.phase is Phase.ABORTED:
            # Restart the waves: a rolled-back fleet must pass the canary gate again.
            r.wave = 0
            r.wave_ready_at = None
        r.pause = None
        r.phase = Phase.PROGRESSING
        r.last_progress_at = now  # the next step clears Stalled, and says so (Notify resolved)
        r.rollback_reason, r.rollback_message = None, ""
        # Targets a rollback put back count as progress again when they re-converge.
        r.most_converged = sum(1 for t in r.targets.values() if t.converged)
    return r


def abort(rollout: Rollout, by: str, now: float) -> tuple[Rollout, list[Notify]]:
    """Stop applying; what converged stays as it is (rollback is its own command).

    The alerts the rollout raised are resolved: an aborted rollout neither progresses nor
    stalls, and whoever was paged should hear that somebody acted.
    """
    message = f"the rollout was aborted by {by}"
    return _end(rollout, Reason.ABORTED, f"aborted by {by}", message, now)


def rolled_back(rollout: Rollout, by: str, to: str, now: float) -> tuple[Rollout, list[Notify]]:
    """A person rolled the fleet back (``reconciler rollback``): the rollout ends, RolledBack."""
    message = f"rolled back to {to} by {by}"
    return _end(rollout, Reason.ROLLED_BACK, message, f"the fleet was {message}", now)


def _end(
    rollout: Rollout, reason: str, ready: str, notice: str, now: float
) -> tuple[Rollout, list[Notify]]:
    """Abort with ``reason``, resolving the stall and health-pause alerts the rollout raised."""
    actions: list[Notify] = []
    if rollout.phase is not Phase.ABORTED:
        if rollout.stalled and rollout.stall_alerted_at is not None:
            actions.append(Notify("stalled", "resolved", (), notice))
        if rollout.phase is Phase.PAUSED and rollout.pause and rollout.pause.by == RECONCILER:
            actions.append(Notify("paused", "resolved", (), notice))
    r = copy.deepcopy(rollout)
    r.phase = Phase.ABORTED
    r.conditions.pop(ConditionType.RECONCILING, None)
    r.conditions.pop(ConditionType.STALLED, None)
    r.rollback_reason, r.rollback_message = None, ""
    set_condition(r, ConditionType.READY, False, reason, ready, now)
    return r, actions


def quarantined(rollout: Rollout, held: Quarantine) -> Rollout:
    """Mark a rollout whose digest is quarantined: nothing of it is applied until the bundle
    changes or a person resumes."""
    r = copy.deepcopy(rollout)
    to = f" to {revision_label(held.to_revision)}" if held.to_revision else ""
    message = (
        f"{revision_label(held.revision)} was rolled back{to} by {held.by}; nothing is applied "
        "until the bundle changes or `reconciler rollout resume`"
    )
    set_condition(r, ConditionType.QUARANTINED, True, Reason.QUARANTINED, message, held.at)
    return r
