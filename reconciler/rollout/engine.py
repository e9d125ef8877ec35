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
    Action,
    Apply,
    Condition,
    ConditionType,
    Notify,
    Observation,
    Pause,
    Phase,
    Quarantine,
    Reason,
    Revert,
    Rollout,
    TargetProgress,
)
from ..revisions import revision_label

#: First retry of a failed apply after this many seconds, doubling up to APPLY_BACKOFF_MAX.
APPLY_BACKOFF = 5.0
APPLY_BACKOFF_MAX = 300.0
#: Who pauses a rollout when a health gate fails (a person's pause names the person).
RECONCILER = "reconciler"


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
) -> tuple[Rollout, list[Action]]:
    """One step: take in observations, move waves, decide applies, detect stalls."""
    r = copy.deepcopy(rollout)
    actions: list[Action] = []
    progressed = _observe(r, policy, observations, now)
    if r.phase is Phase.ABORTED:
        return r, actions
    if progressed:
        r.last_progress_at = now
    # The gate first, so a recovered gate lifts its pause (and says so) before the last wave
    # completes; the stall before the applies, so a rollback applies nothing.
    _health_gate(r, policy, now, actions)
    if r.phase is not Phase.COMPLETE:
        _move_waves(r, now)
    _advisory(r, actions)
    _stall(r, policy, now, actions)
    applying = r.phase is Phase.PROGRESSING or (r.phase is Phase.COMPLETE and policy.self_heal)
    if applying and not any(isinstance(a, Revert) for a in actions):
        _applies(r, now, actions)
    _conditions(r, now)
    return r, actions


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


def _move_waves(r: Rollout, now: float) -> None:
    """Bake and move on; a paused rollout's bake clock runs, but it neither moves nor completes."""
    paused = r.phase is Phase.PAUSED
    while r.wave < len(r.waves):
        members = [t for t in r.targets.values() if t.wave == r.wave]
        if not all(_passes(t) for t in members):
            r.wave_ready_at = None
            return
        if r.wave_ready_at is None:
            r.wave_ready_at = now
        if now - r.wave_ready_at < r.bakes[r.wave] or paused:
            return
        r.wave += 1
        r.wave_ready_at = None
        r.last_progress_at = now
    if not paused and all(_passes(t) for t in r.targets.values()):
        r.phase = Phase.COMPLETE


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
    window = policy.progress_deadline
    # The same rule as model.rollout.overdue, which judges a rollout nobody steps any more.
    if now <= r.deadline(window) or r.phase is Phase.COMPLETE:
        if r.stalled:
            actions.append(Notify("stalled", "resolved", (), "the rollout is progressing again"))
            r.conditions.pop(ConditionType.STALLED, None)
            r.stall_alerted_at = None
            r.rollback_reason, r.rollback_message = None, ""
        return
    deadline = r.deadline(window)
    where = f"wave {r.wave + 1}/{len(r.waves)} ({_wave_name(r)})"
    paused = f", paused by {r.pause.by}: {r.pause.reason}" if r.pause else ""
    late = format_duration(now - (deadline - window))
    message = f"no progress for {late} at {where}{paused}"
    # The condition's message must not tick, or its transition time would move every step.
    stalled = f"no progress for over {format_duration(window)} at {where}{paused}"
    _set(r, ConditionType.STALLED, True, Reason.DEADLINE, stalled, now)
    due = r.stall_alerted_at is None or now - r.stall_alerted_at >= policy.progress_deadline
    if due:
        r.stall_alerted_at = now
        actions.append(Notify("stalled", "firing", r.blocking(), message))
    if policy.on_stall == "rollback":
        _roll_back(r, actions)


def _roll_back(r: Rollout, actions: list[Action]) -> None:
    """Put every target this rollout moved back on what it ran before, or say why not."""
    converged = sorted(n for n, t in r.targets.items() if t.converged)
    unknown = [n for n in converged if r.targets[n].before is None]
    moved = [(n, r.targets[n].before) for n in converged if r.targets[n].before != r.to_revision]
    if unknown:
        why = "what it ran before the rollout started is not known"
        message = f"cannot roll back {', '.join(unknown)}: {why}; nothing was written"
    elif not moved:
        message = "nothing to roll back: this rollout moved no target; nothing was written"
    else:
        actions.append(Revert(tuple((n, b) for n, b in moved if b is not None)))
        return
    if r.rollback_reason != Reason.ROLLBACK_IMPOSSIBLE or r.rollback_message != message:
        blocked = tuple((n, why) for n in unknown) if unknown else r.blocking()
        actions.append(Notify("rollback_impossible", "firing", blocked, message))
    r.rollback_reason, r.rollback_message = Reason.ROLLBACK_IMPOSSIBLE, message


def reverted(
    rollout: Rollout, failed: Mapping[str, str], now: float
) -> tuple[Rollout, list[Action]]:
    """Take in the outcome of a :class:`Revert`: every write done ends the rollout RolledBack.

    A failed write keeps it Stalled with the reason RollbackFailed; the next step tries again.
    """
    if failed:
        r = copy.deepcopy(rollout)
        parts = "; ".join(f"{name}: {why}" for name, why in sorted(failed.items()))
        message = f"rollback failed on {parts}; retried every step"
        actions: list[Action] = []
        if r.rollback_reason != Reason.ROLLBACK_FAILED:
            actions.append(
                Notify("rollback_failed", "firing", tuple(sorted(failed.items())), message)
            )
        r.rollback_reason, r.rollback_message = Reason.ROLLBACK_FAILED, message
        _conditions(r, now)
        return r, actions
    stall = rollout.conditions.get(ConditionType.STALLED)
    after = f" after: {stall.message}" if stall else ""
    ready, notice = f"rolled back{after}", f"it was rolled back{after}"
    return _end(rollout, Reason.ROLLED_BACK, ready, notice, now)


def _wave_name(r: Rollout) -> str:
    return r.waves[r.wave] if r.wave < len(r.waves) else "done"


def _set(r: Rollout, kind: str, status: bool, reason: str, message: str, now: float) -> None:
    """Set a condition; its transition time moves only when status, reason or message change."""
    old = r.conditions.get(kind)
    if old and (old.status, old.reason, old.message) == (status, str(reason), message):
        return
    r.conditions[kind] = Condition(str(kind), status, str(reason), message, r.to_revision, now)


def _conditions(r: Rollout, now: float) -> None:
    converged = sum(1 for t in r.targets.values() if t.converged)
    total = len(r.targets)
    counts = f"{converged}/{total} targets"
    if r.phase is Phase.COMPLETE:
        r.conditions.pop(ConditionType.RECONCILING, None)
        r.conditions.pop(ConditionType.STALLED, None)
        _set(r, ConditionType.READY, True, Reason.SUCCEEDED, f"{counts} converged", now)
        return
    if r.phase is Phase.ABORTED:
        r.conditions.pop(ConditionType.RECONCILING, None)
        return
    if r.rollback_reason is not None and r.stalled:
        reason, message = r.rollback_reason, r.rollback_message
    elif r.phase is Phase.PAUSED and r.pause is not None:
        reason = Reason.HEALTH_FAILING if r.pause.by == RECONCILER else Reason.PAUSED
        message = f"paused by {r.pause.by}: {r.pause.reason}"
    elif r.wave_ready_at is not None:
        reason = Reason.BAKING  # no countdown in the message: it would move `since` every step
        message = f"{counts}; wave {_wave_name(r)} baking for {format_duration(r.bakes[r.wave])}"
    elif failing := _failing(r):
        # A doomed target (it refuses for good) reads apart from a slow one (it may recover).
        permanent = [n for n, t in failing if t.failure == "permanent"]
        reason = Reason.TARGET_REJECTED if permanent else Reason.TARGET_UNAVAILABLE
        names = ", ".join(permanent or [n for n, _ in failing])
        kind = "needs a person" if permanent else "retried with backoff"
        message = f"{counts}; wave {r.wave + 1}/{len(r.waves)} ({_wave_name(r)}): {names} ({kind})"
    else:
        reason = Reason.PROGRESSING
        message = f"{counts}; wave {r.wave + 1}/{len(r.waves)} ({_wave_name(r)})"
    _set(r, ConditionType.READY, False, reason, message, now)
    if r.stalled:
        r.conditions.pop(ConditionType.RECONCILING, None)
    else:
        _set(r, ConditionType.RECONCILING, True, reason, message, now)


def _failing(r: Rollout) -> list[tuple[str, TargetProgress]]:
    """Targets of the current wave whose last fetch failed, by name."""
    return sorted(
        (n, t) for n, t in r.targets.items() if t.wave <= r.wave and t.failure and not t.converged
    )


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
    r = copy.deepcopy(rollout)
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


def abort(rollout: Rollout, by: str, now: float) -> tuple[Rollout, list[Action]]:
    """Stop applying; what converged stays as it is (rollback is its own command).

    The alerts the rollout raised are resolved: an aborted rollout neither progresses nor
    stalls, and whoever was paged should hear that somebody acted.
    """
    message = f"the rollout was aborted by {by}"
    return _end(rollout, Reason.ABORTED, f"aborted by {by}", message, now)


def rolled_back(rollout: Rollout, by: str, to: str, now: float) -> tuple[Rollout, list[Action]]:
    """A person rolled the fleet back (``reconciler rollback``): the rollout ends, RolledBack."""
    message = f"rolled back to {to} by {by}"
    return _end(rollout, Reason.ROLLED_BACK, message, f"the fleet was {message}", now)


def _end(
    rollout: Rollout, reason: str, ready: str, notice: str, now: float
) -> tuple[Rollout, list[Action]]:
    """Abort with ``reason``, resolving the stall and health-pause alerts the rollout raised."""
    actions: list[Action] = []
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
    _set(r, ConditionType.READY, False, reason, ready, now)
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
    _set(r, ConditionType.QUARANTINED, True, Reason.QUARANTINED, message, held.at)
    return r
