"""Conditions of a rollout (kstatus/Flux): Ready, Reconciling, Stalled, Quarantined — set from
where the rollout is, with a transition time that moves only when status, reason or message do.

Pure, shared by the engine (:mod:`.engine`) and the steering commands (:mod:`.steering`).
"""

from __future__ import annotations

from ..model.canary_progress import CanaryState
from ..model.duration import format_duration
from ..model.rollout import (
    CANARY_PAUSE,
    Condition,
    ConditionType,
    Phase,
    Reason,
    Rollout,
    TargetProgress,
)

#: Who pauses a rollout when a health gate fails (a person's pause names the person).
RECONCILER = "reconciler"


def wave_name(r: Rollout) -> str:
    return r.waves[r.wave] if r.wave < len(r.waves) else "done"


def set_condition(
    r: Rollout, kind: str, status: bool, reason: str, message: str, now: float
) -> None:
    """Set a condition; its transition time moves only when status, reason or message change."""
    old = r.conditions.get(kind)
    if old and (old.status, old.reason, old.message) == (status, str(reason), message):
        return
    r.conditions[kind] = Condition(str(kind), status, str(reason), message, r.to_revision, now)


def update(r: Rollout, now: float) -> None:
    converged = sum(1 for t in r.targets.values() if t.converged)
    total = len(r.targets)
    counts = f"{converged}/{total} targets"
    if r.phase is Phase.COMPLETE:
        r.conditions.pop(ConditionType.RECONCILING, None)
        r.conditions.pop(ConditionType.STALLED, None)
        set_condition(r, ConditionType.READY, True, Reason.SUCCEEDED, f"{counts} converged", now)
        return
    if r.phase is Phase.ABORTED:
        r.conditions.pop(ConditionType.RECONCILING, None)
        return
    if r.rollback_reason is not None and r.stalled:
        reason, message = r.rollback_reason, r.rollback_message
    elif r.phase is Phase.PAUSED and r.pause is not None:
        reason = Reason.HEALTH_FAILING if r.pause.by == RECONCILER else Reason.PAUSED
        if r.pause.cause:
            reason = Reason.ANALYSIS_FAILED
        if r.pause.cause == CANARY_PAUSE and r.canary is not None:
            failed = r.canary.state is CanaryState.FAILED
            reason = Reason.CANARY_FAILED if failed else Reason.CANARY_MARGINAL
        message = f"paused by {r.pause.by}: {r.pause.reason}"
    elif r.held is not None:
        reason, message = r.held.reason, f"{counts}; {r.held.message}"
    elif r.awaiting_eval:
        reason = Reason.AWAITING_EVAL
        message = f"{counts}; {r.awaiting_eval}"
    elif r.canary is not None and r.canary.holding:
        reason = Reason.CANARY_STEP
        message = f"{counts}; {r.canary.describe()}"
        message += f": {r.canary.message}" if r.canary.message else ""
    elif r.wave_ready_at is not None:
        reason = Reason.BAKING  # no countdown in the message: it would move `since` every step
        message = f"{counts}; wave {wave_name(r)} baking for {format_duration(r.bakes[r.wave])}"
        waiting = [f"{n}: {t.gate_wait}" for n, t in sorted(r.targets.items()) if _gated(r, t)]
        if waiting:
            message += f"; gates: {waiting[0]}" + (f" (+{len(waiting) - 1})" if waiting[1:] else "")
    elif down := failing(r):
        # A doomed target (it refuses for good) reads apart from a slow one (it may recover).
        permanent = [n for n, t in down if t.failure == "permanent"]
        reason = Reason.TARGET_REJECTED if permanent else Reason.TARGET_UNAVAILABLE
        names = ", ".join(permanent or [n for n, _ in down])
        kind = "needs a person" if permanent else "retried with backoff"
        message = f"{counts}; wave {r.wave + 1}/{len(r.waves)} ({wave_name(r)}): {names} ({kind})"
    else:
        reason = Reason.PROGRESSING
        message = f"{counts}; wave {r.wave + 1}/{len(r.waves)} ({wave_name(r)})"
    set_condition(r, ConditionType.READY, False, reason, message, now)
    if r.stalled:
        r.conditions.pop(ConditionType.RECONCILING, None)
    else:
        set_condition(r, ConditionType.RECONCILING, True, reason, message, now)


def _gated(r: Rollout, t: TargetProgress) -> bool:
    """A target of the baking wave whose bake gates do not let the wave go yet."""
    return t.wave == r.wave and bool(t.gate_wait)


def failing(r: Rollout) -> list[tuple[str, TargetProgress]]:
    """Targets of the current wave whose last fetch failed, by name."""
    return sorted(
        (n, t) for n, t in r.targets.items() if t.wave <= r.wave and t.failure and not t.converged
    )
