"""When a rollout is Stalled (design §10, kstatus): its progress deadline passed, a legitimate
wait held past its bounds, or every target of its wave refuses for good; and what
``on_stall: rollback`` asks for then. Part of the engine (:mod:`.engine`): pure, no I/O.
"""

from __future__ import annotations

from ..model.codes import AlertCondition
from ..model.duration import format_duration
from ..model.inventory import RolloutPolicy
from ..model.rollout import (
    Action,
    ConditionType,
    FailureKind,
    Hold,
    Notify,
    Phase,
    Reason,
    Revert,
    Rollout,
    hold_overdue,
)
from .conditions import set_condition, wave_name


def stall(r: Rollout, policy: RolloutPolicy, now: float, actions: list[Action]) -> None:
    if r.held is not None:
        held_stall(r, r.held, policy, now, actions)
        return
    window = policy.progress_deadline
    rejected = doomed(r) if now <= r.deadline(window) else ""
    if rejected:  # doomed: no retry can help, so no need to wait out the deadline (Flux)
        set_condition(r, ConditionType.STALLED, True, Reason.TARGET_REJECTED, rejected, now)
        if r.stall_alerted_at is None or now - r.stall_alerted_at >= window:
            r.stall_alerted_at = now
            actions.append(Notify(AlertCondition.STALLED, "firing", r.blocking(), rejected))
        return
    # The same rule as model.rollout.overdue, which judges a rollout nobody steps any more.
    if now <= r.deadline(window) or r.phase is Phase.COMPLETE:
        unstall(r, actions, "the rollout is progressing again")
        return
    deadline = r.deadline(window)
    where = f"wave {r.wave + 1}/{len(r.waves)} ({wave_name(r)})"
    if r.canary is not None and r.canary.holding:
        where = r.canary.describe() + (f": {r.canary.message}" if r.canary.message else "")
    paused = f", paused by {r.pause.by}: {r.pause.reason}" if r.pause else ""
    paused += f", {r.awaiting_eval}" if r.awaiting_eval else ""
    late = format_duration(now - (deadline - window))
    message = f"no progress for {late} at {where}{paused}"
    # The condition's message must not tick, or its transition time would move every step.
    stalled = f"no progress for over {format_duration(window)} at {where}{paused}"
    set_condition(r, ConditionType.STALLED, True, Reason.DEADLINE, stalled, now)
    due = r.stall_alerted_at is None or now - r.stall_alerted_at >= policy.progress_deadline
    if due:
        r.stall_alerted_at = now
        actions.append(Notify(AlertCondition.STALLED, "firing", r.blocking(), message))
    if policy.on_stall == "rollback" and not any(isinstance(a, Revert) for a in actions):
        roll_back(r, actions)


def doomed(r: Rollout) -> str:
    """Why the current wave is doomed ("" when it is not): every one of its targets failed with
    a permanent error (unauthorized, not found, invalid) on its last fetch, so it needs a person.

    The rollout is Stalled at once, with reason TargetRejected, and not rolled back: what a
    target refuses for good, a rollback would write to it in vain. Should it stay doomed past
    the progress deadline, the deadline's stall (and ``on_stall``) takes over.
    """
    if r.phase is not Phase.PROGRESSING or r.wave >= len(r.waves):
        return ""
    wave = sorted((n, t) for n, t in r.targets.items() if t.wave == r.wave)
    if not wave or any(t.converged or t.failure != FailureKind.PERMANENT for _, t in wave):
        return ""
    name, first = wave[0]
    more = f" (+{len(wave) - 1} more)" if len(wave) > 1 else ""
    return (
        f"every target of wave {r.wave + 1}/{len(r.waves)} ({wave_name(r)}) refuses for good, "
        f"which no retry can mend: {name}: {first.reason or 'rejected'}{more} (needs a person)"
    )


def unstall(r: Rollout, actions: list[Action], why: str) -> None:
    if r.stalled:
        actions.append(Notify(AlertCondition.STALLED, "resolved", (), why))
        r.conditions.pop(ConditionType.STALLED, None)
        r.stall_alerted_at = None
        r.rollback_reason, r.rollback_message = None, ""


def held_stall(
    r: Rollout, held: Hold, policy: RolloutPolicy, now: float, actions: list[Action]
) -> None:
    """A legitimate wait is never a stall; one that is itself stalled (its upstream is) or that
    held past ``max_wait`` is, loudly — and never rolled back for (nothing was applied)."""
    why = hold_overdue(held, now)
    if not why:
        unstall(r, actions, f"the rollout waits, legitimately: {held.message}")
        return
    set_condition(r, ConditionType.STALLED, True, held.reason, why, now)
    if r.stall_alerted_at is None or now - r.stall_alerted_at >= policy.progress_deadline:
        r.stall_alerted_at = now
        actions.append(Notify(AlertCondition.STALLED, "firing", r.blocking(), why))


def roll_back(
    r: Rollout, actions: list[Action], only: set[str] | None = None, gate: bool = False
) -> None:
    """Put every target this rollout moved (of ``only``) back on what it ran before, or say why
    not. ``gate``: a failed bake gate asked for it (else the stall did)."""
    converged = sorted(
        n for n, t in r.targets.items() if t.converged and (only is None or n in only)
    )
    unknown = [n for n in converged if r.targets[n].before is None]
    moved = [(n, r.targets[n].before) for n in converged if r.targets[n].before != r.to_revision]
    if unknown:
        why = "what it ran before the rollout started is not known"
        message = f"cannot roll back {', '.join(unknown)}: {why}; nothing was written"
    elif not moved:
        message = "nothing to roll back: this rollout moved no target; nothing was written"
    else:
        policy = "on_fail: rollback" if gate else "on_stall: rollback"
        actions.append(Revert(tuple((n, b) for n, b in moved if b is not None), policy))
        return
    if r.rollback_reason != Reason.ROLLBACK_IMPOSSIBLE or r.rollback_message != message:
        blocked = tuple((n, why) for n in unknown) if unknown else r.blocking()
        actions.append(Notify(AlertCondition.ROLLBACK_IMPOSSIBLE, "firing", blocked, message))
    r.rollback_reason, r.rollback_message = Reason.ROLLBACK_IMPOSSIBLE, message
