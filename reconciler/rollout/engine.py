"""The rollout state machine (design §10): ``advance(rollout, policy, observations, now)``.

Pure: no I/O, no clock. It returns a new rollout and the actions to take; the driver executes
them and persists the state after every step, so a process killed at any instant resumes where
it was. Converged always means "the re-fetched content equals desired", never "apply said 200".
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence

from ..model.duration import format_duration
from ..model.inventory import RolloutPolicy
from ..model.rollout import (
    GATE_PAUSE,
    GATE_ROLLBACK,
    Action,
    Apply,
    ConditionType,
    Hold,
    Notify,
    Observation,
    Pause,
    Phase,
    Reason,
    Revert,
    Rollout,
    TargetProgress,
    Wait,
    hold_overdue,
)
from . import gating
from .conditions import RECONCILER, set_condition, update, wave_name

#: First retry of a failed apply after this many seconds, doubling up to APPLY_BACKOFF_MAX.
APPLY_BACKOFF = 5.0
APPLY_BACKOFF_MAX = 300.0


def start(
    *,
    environment: str,
    bundle: str,
    from_revision: str | None,
    to_revision: str,
    digest: str,
    targets: Sequence[str],
    policy: RolloutPolicy,
    now: float,
    before: Mapping[str, str | None] | None = None,
    content: str = "",
) -> Rollout:
    """A new rollout; targets no wave names go to a final implicit wave.

    ``before`` records what each target ran when the rollout started (from the audit's
    lineage): where ``on_stall: rollback`` puts it back. A target it does not name is unknown.
    """
    names = [wave.name for wave in policy.waves]
    bakes = [wave.bake for wave in policy.waves]
    progress: dict[str, TargetProgress] = {}
    ran = before or {}
    for target in targets:
        index = policy.wave_index(target)
        if index is None:
            if len(names) == len(policy.waves):
                names.append("rest" if names else "all")
                bakes.append(0.0)
            index = len(policy.waves)
        progress[target] = TargetProgress(wave=index, before=ran.get(target))
    rollout = Rollout(
        environment=environment,
        bundle=bundle,
        from_revision=from_revision,
        to_revision=to_revision,
        digest=digest,
        started_at=now,
        last_progress_at=now,
        targets=progress,
        waves=names,
        bakes=bakes,
        content=content,
    )
    _drop_empty_waves(rollout)
    return rollout


def _drop_empty_waves(rollout: Rollout) -> None:
    used = sorted({t.wave for t in rollout.targets.values()})
    remap = {old: new for new, old in enumerate(used)}
    rollout.waves = [rollout.waves[i] for i in used]
    rollout.bakes = [rollout.bakes[i] for i in used]
    for target in rollout.targets.values():
        target.wave = remap[target.wave]


def advance(
    rollout: Rollout,
    policy: RolloutPolicy,
    observations: Mapping[str, Observation],
    now: float,
    *,
    awaiting_eval: str = "",
    wait: Wait | None = None,
) -> tuple[Rollout, list[Action]]:
    """One step: take in observations, move waves, decide applies, detect stalls.

    ``awaiting_eval`` (require_eval): why no wave may start yet ("" when a passing eval of the
    desired digest exists): nothing is applied until it is "" (a wave whose targets all hold
    the digest already still bakes and passes: it needs no start).

    ``wait`` (design §14): a promotion or a closed window holds the rollout: nothing is applied
    and the progress clock stops; the deadline restarts when it ends; a wait that is itself
    stalled, or held past ``max_wait``, is Stalled.
    """
    r = copy.deepcopy(rollout)
    actions: list[Action] = []
    progressed = _observe(r, policy, observations, now)
    if r.phase is Phase.ABORTED:
        return r, actions
    if progressed:
        r.last_progress_at = now
    r.awaiting_eval = "" if r.phase is Phase.COMPLETE else awaiting_eval
    _hold(r, wait, now)
    # The gate first, so a recovered gate lifts its pause (and says so) before the last wave
    # completes; the stall before the applies, so a rollback applies nothing.
    _health_gate(r, policy, now, actions)
    if r.phase is not Phase.COMPLETE:
        _move_waves(r, observations, now, actions)
        _completed(r, now)
    _advisory(r, actions)
    _stall(r, policy, now, actions)
    progressing = r.phase is Phase.PROGRESSING and not r.awaiting_eval and r.held is None
    progressing = progressing and not canary_holds(r, policy)
    healing = r.phase is Phase.COMPLETE and policy.self_heal and wait is None
    applying = progressing or healing
    if applying and not any(isinstance(a, Revert) for a in actions):
        _applies(r, now, actions)
    update(r, now)
    return r, actions


def canary_holds(r: Rollout, policy: RolloutPolicy) -> bool:
    """With ``rollout.canary``, no group switches while the canary steps (or before the
    release flag was read: is there a baseline?), nor while it failed or holds."""
    if policy.canary is None:
        return False
    return r.canary is None or r.canary.holding


def _hold(r: Rollout, wait: Wait | None, now: float) -> None:
    """Record this step's legitimate wait (or its end, which restarts the deadline)."""
    if wait is None or r.phase is Phase.COMPLETE:
        if r.held is not None:
            r.held = None
            r.hold_ended_at = now
        if wait is None:
            r.promoted = True  # nothing held it this step: a promotion wait never comes back
        return
    same = r.held is not None and r.held.reason == wait.reason
    since = r.held.since if same and r.held is not None else now
    limit = since + wait.max_wait if wait.max_wait is not None else None
    r.held = Hold(wait.reason, wait.message, since, wait.until, limit, wait.stalled)


def _completed(r: Rollout, now: float) -> None:
    """Note when it became complete (a promotion's soak counts from here); nothing holds it."""
    if r.phase is not Phase.COMPLETE:
        r.completed_at = None  # resumed after a rollback: it must complete (and soak) again
    elif r.completed_at is None:
        r.completed_at = now
        r.held = None


def _observe(
    r: Rollout, policy: RolloutPolicy, observations: Mapping[str, Observation], now: float
) -> bool:
    for name, target in r.targets.items():
        seen = observations.get(name, Observation(False, "not observed"))
        if seen.converged and not target.converged:
            target.converged_at = now
            target.applies = 0  # a later drift starts again from the shortest backoff
            # Health seen before the target ran this content says nothing about this content.
            target.ok_streak = target.fail_streak = 0
            target.healthy = None
        target.converged = seen.converged
        target.reason = "" if seen.converged else seen.reason
        target.failure = "" if seen.converged else seen.failure
        target.advisory = seen.advisory
        if seen.health is True:
            target.ok_streak += 1
            target.fail_streak = 0
            if target.ok_streak >= policy.health.successes:
                target.healthy = True
        elif seen.health is False:
            target.fail_streak += 1
            target.ok_streak = 0
            if target.fail_streak >= policy.health.failures:
                target.healthy = False
    converged = sum(1 for t in r.targets.values() if t.converged)
    if converged <= r.most_converged:
        return False
    r.most_converged = converged
    return True


def _passes(t: TargetProgress) -> bool:
    """Converged, and healthy unless its health check is only advisory."""
    return t.converged and (t.healthy is True or t.advisory)


def _move_waves(
    r: Rollout, observations: Mapping[str, Observation], now: float, actions: list[Action]
) -> None:
    """Bake, judge the bake's gates, move on; a paused rollout's bake clock runs, but it neither
    moves nor completes (after a failed bake gate, the bake starts over once resumed)."""
    paused = r.phase is Phase.PAUSED
    gate_paused = paused and r.pause is not None and bool(r.pause.cause)
    if gate_paused and r.pause is not None and r.pause.cause == GATE_ROLLBACK:
        # A rollback the gate asked for that could not be written yet is tried again.
        _roll_back(r, actions, {n for n, t in r.targets.items() if t.wave == r.wave}, True)
    while r.wave < len(r.waves):
        members = [(n, t) for n, t in r.targets.items() if t.wave == r.wave]
        if not all(_passes(t) for _, t in members):
            r.wave_ready_at = None
            gating.forget(members)
            return
        if r.wave_ready_at is None:
            if gate_paused:
                return
            r.wave_ready_at = now
        if paused:
            return
        ready, failed = gating.judge(members, observations, now)
        if failed is not None:
            _gate_failed(r, failed, now, actions)
            return
        if now - r.wave_ready_at < r.bakes[r.wave] or not ready:
            return
        r.wave += 1
        r.wave_ready_at = None
        r.last_progress_at = now
    if not paused and all(_passes(t) for t in r.targets.values()):
        r.phase = Phase.COMPLETE


def _gate_failed(r: Rollout, failed: gating.Failure, now: float, actions: list[Action]) -> None:
    """A bake gate said no: pause (AnalysisFailed) and, with on_fail: rollback, put the wave's
    targets back on what they ran before. Only a person's resume lifts it."""
    reason = failed.message
    rollback = failed.reading.on_fail == "rollback"
    r.pause = Pause(RECONCILER, reason, now, GATE_ROLLBACK if rollback else GATE_PAUSE)
    r.phase = Phase.PAUSED
    r.wave_ready_at = None  # the bake starts over once a person resumes
    actions.append(Notify("paused", "firing", ((failed.target, failed.reading.message),), reason))
    if rollback:
        wave = {n for n, t in r.targets.items() if t.wave == r.wave}
        _roll_back(r, actions, wave, True)


def _health_gate(r: Rollout, policy: RolloutPolicy, now: float, actions: list[Action]) -> None:
    """A failing blocking health gate pauses; when every gate recovers, its pause lifts."""
    gated = [(name, t) for name, t in r.targets.items() if t.wave <= r.wave and not t.advisory]
    failing = [(name, t) for name, t in gated if t.converged and t.healthy is False]
    # A target that stopped converging (say, unreachable) while its gate failed has not recovered.
    recovered = not any(t.healthy is False for _, t in gated)
    if failing and r.phase is Phase.PROGRESSING:
        name, t = failing[0]
        reason = f"health failing on {name} ({t.fail_streak} checks in a row)"
        r.pause = Pause(RECONCILER, reason, now)
        r.phase = Phase.PAUSED
        actions.append(Notify("paused", "firing", r.blocking(), reason))
    elif recovered and r.phase is Phase.PAUSED and r.pause and r.pause.by == RECONCILER:
        if r.pause.cause:  # a failed bake gate waits for a person, however healthy
            return
        actions.append(Notify("paused", "resolved", (), "health checks recovered"))
        r.pause = None
        r.phase = Phase.PROGRESSING


def _advisory(r: Rollout, actions: list[Action]) -> None:
    """An advisory health check that fails is said, as a warning; it never holds a wave."""
    for name, t in sorted(r.targets.items()):
        failing = t.advisory and t.converged and t.healthy is False
        if failing and not t.advisory_alerted:
            t.advisory_alerted = True
            why = f"advisory health check failing ({t.fail_streak} checks in a row)"
            message = f"{name}: {why}; the rollout goes on (gate: advisory)"
            actions.append(Notify("health", "firing", ((name, why),), message, "warning"))
        elif t.advisory_alerted and not failing:
            t.advisory_alerted = False
            actions.append(
                Notify("health", "resolved", ((name, ""),), f"{name}: health check ok", "warning")
            )


def _applies(r: Rollout, now: float, actions: list[Action]) -> None:
    for name, target in r.targets.items():
        if target.converged or target.wave > r.wave:
            continue
        if target.last_apply_at is not None:
            wait = min(APPLY_BACKOFF * 2 ** max(target.applies - 1, 0), APPLY_BACKOFF_MAX)
            if now - target.last_apply_at < wait:
                continue
        target.applies += 1
        target.last_apply_at = now
        actions.append(Apply(name))


def _stall(r: Rollout, policy: RolloutPolicy, now: float, actions: list[Action]) -> None:
    if r.held is not None:
        _held_stall(r, r.held, policy, now, actions)
        return
    window = policy.progress_deadline
    # The same rule as model.rollout.overdue, which judges a rollout nobody steps any more.
    if now <= r.deadline(window) or r.phase is Phase.COMPLETE:
        _unstall(r, actions, "the rollout is progressing again")
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
        actions.append(Notify("stalled", "firing", r.blocking(), message))
    if policy.on_stall == "rollback" and not any(isinstance(a, Revert) for a in actions):
        _roll_back(r, actions)


def _unstall(r: Rollout, actions: list[Action], why: str) -> None:
    if r.stalled:
        actions.append(Notify("stalled", "resolved", (), why))
        r.conditions.pop(ConditionType.STALLED, None)
        r.stall_alerted_at = None
        r.rollback_reason, r.rollback_message = None, ""


def _held_stall(
    r: Rollout, held: Hold, policy: RolloutPolicy, now: float, actions: list[Action]
) -> None:
    """A legitimate wait is never a stall; one that is itself stalled (its upstream is) or that
    held past ``max_wait`` is, loudly — and never rolled back for (nothing was applied)."""
    why = hold_overdue(held, now)
    if not why:
        _unstall(r, actions, f"the rollout waits, legitimately: {held.message}")
        return
    set_condition(r, ConditionType.STALLED, True, held.reason, why, now)
    if r.stall_alerted_at is None or now - r.stall_alerted_at >= policy.progress_deadline:
        r.stall_alerted_at = now
        actions.append(Notify("stalled", "firing", r.blocking(), why))


def _roll_back(
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
        actions.append(Notify("rollback_impossible", "firing", blocked, message))
    r.rollback_reason, r.rollback_message = Reason.ROLLBACK_IMPOSSIBLE, message
