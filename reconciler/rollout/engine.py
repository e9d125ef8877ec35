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
from .model import (
    Action,
    Apply,
    Condition,
    Notify,
    Observation,
    Pause,
    Phase,
    Reason,
    Revert,
    Rollout,
    TargetProgress,
)

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
) -> Rollout:
    """A new rollout; targets no wave names go to a final implicit wave."""
    names = [wave.name for wave in policy.waves]
    bakes = [wave.bake for wave in policy.waves]
    progress: dict[str, TargetProgress] = {}
    for target in targets:
        index = policy.wave_index(target)
        if index is None:
            if len(names) == len(policy.waves):
                names.append("rest" if names else "all")
                bakes.append(0.0)
            index = len(policy.waves)
        progress[target] = TargetProgress(wave=index)
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
    if r.phase in (Phase.ABORTED,):
        return r, actions
    if progressed:
        r.last_progress_at = now
    # The gate first, so a recovered gate lifts its pause (and says so) before the last wave
    # completes; the stall before the applies, so a rollback applies nothing.
    _health_gate(r, policy, now, actions)
    if r.phase is not Phase.COMPLETE:
        _move_waves(r, now)
    _stall(r, policy, now, actions)
    if r.phase is Phase.PROGRESSING or (r.phase is Phase.COMPLETE and policy.self_heal):
        _applies(r, now, actions)
    _conditions(r, policy, now)
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


def _wave_targets(r: Rollout, wave: int) -> list[TargetProgress]:
    return [t for t in r.targets.values() if t.wave == wave]


def _move_waves(r: Rollout, now: float) -> None:
    """Bake and move on; a paused rollout's bake clock runs, but it neither moves nor completes."""
    paused = r.phase is Phase.PAUSED
    while r.wave < len(r.waves):
        members = _wave_targets(r, r.wave)
        if not all(t.converged and t.healthy for t in members):
            r.wave_ready_at = None
            return
        if r.wave_ready_at is None:
            r.wave_ready_at = now
        if now - r.wave_ready_at < r.bakes[r.wave] or paused:
            return
        r.wave += 1
        r.wave_ready_at = None
        r.last_progress_at = now
    if not paused and all(t.converged and t.healthy for t in r.targets.values()):
        r.phase = Phase.COMPLETE


def _health_gate(r: Rollout, policy: RolloutPolicy, now: float, actions: list[Action]) -> None:
    """A failing health gate pauses; when every gate recovers, the reconciler's pause lifts."""
    gated = [(name, t) for name, t in r.targets.items() if t.wave <= r.wave]
    failing = [(name, t) for name, t in gated if t.converged and t.healthy is False]
    # A target that stopped converging (say, unreachable) while its gate failed has not recovered.
    recovered = not any(t.healthy is False for _, t in gated)
    if failing and r.phase is Phase.PROGRESSING:
        name, t = failing[0]
        reason = f"health failing on {name} ({t.fail_streak} checks in a row)"
        r.pause = Pause(RECONCILER, reason, now)
        r.phase = Phase.PAUSED
        actions.append(Notify("paused", "firing", _blocking(r), reason))
    elif recovered and r.phase is Phase.PAUSED and r.pause and r.pause.by == RECONCILER:
        actions.append(Notify("paused", "resolved", (), "health checks recovered"))
        r.pause = None
        r.phase = Phase.PROGRESSING


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


def _blocking(r: Rollout) -> tuple[tuple[str, str], ...]:
    """Targets that keep the current wave from finishing, with why."""
    out = []
    for name, t in sorted(r.targets.items()):
        if t.wave > r.wave:
            continue
        if not t.converged:
            out.append((name, t.reason or "not converged"))
        elif t.healthy is False:
            out.append((name, f"health failing ({t.fail_streak} checks in a row)"))
        elif t.healthy is None:
            out.append((name, "health not yet confirmed"))
    return tuple(out)


def _stall(r: Rollout, policy: RolloutPolicy, now: float, actions: list[Action]) -> None:
    window = policy.progress_deadline
    deadline = r.deadline(window)
    if now <= deadline or r.phase is Phase.COMPLETE:
        if r.stalled:
            actions.append(Notify("stalled", "resolved", (), "the rollout is progressing again"))
            r.conditions.pop("Stalled", None)
            r.stall_alerted_at = None
        return
    blocking = _blocking(r)
    where = f"wave {r.wave + 1}/{len(r.waves)} ({_wave_name(r)})"
    paused = f", paused by {r.pause.by}: {r.pause.reason}" if r.pause else ""
    late = format_duration(now - (deadline - window))
    message = f"no progress for {late} at {where}{paused}"
    # The condition's message must not tick, or its transition time would move every step.
    stalled = f"no progress for over {format_duration(window)} at {where}{paused}"
    _set(r, "Stalled", True, Reason.DEADLINE, stalled, now)
    due = r.stall_alerted_at is None or now - r.stall_alerted_at >= policy.progress_deadline
    if due:
        r.stall_alerted_at = now
        actions.append(Notify("stalled", "firing", blocking, message))
    if policy.on_stall == "rollback":
        converged = tuple(sorted(n for n, t in r.targets.items() if t.converged))
        actions.append(Revert(converged))
        r.phase = Phase.ABORTED
        _set(r, "Ready", False, Reason.ROLLED_BACK, f"rolled back after: {message}", now)


def _wave_name(r: Rollout) -> str:
    return r.waves[r.wave] if r.wave < len(r.waves) else "done"


def _set(r: Rollout, kind: str, status: bool, reason: str, message: str, now: float) -> None:
    """Set a condition; its transition time moves only when status, reason or message change."""
    old = r.conditions.get(kind)
    if old and (old.status, old.reason, old.message) == (status, str(reason), message):
        return
    r.conditions[kind] = Condition(kind, status, str(reason), message, r.to_revision, now)


def _conditions(r: Rollout, policy: RolloutPolicy, now: float) -> None:
    converged = sum(1 for t in r.targets.values() if t.converged)
    total = len(r.targets)
    counts = f"{converged}/{total} targets"
    if r.phase is Phase.COMPLETE:
        r.conditions.pop("Reconciling", None)
        r.conditions.pop("Stalled", None)
        _set(r, "Ready", True, Reason.SUCCEEDED, f"{counts} converged", now)
        return
    if r.phase is Phase.ABORTED:
        r.conditions.pop("Reconciling", None)
        return
    if r.phase is Phase.PAUSED and r.pause is not None:
        reason = Reason.HEALTH_FAILING if r.pause.by == RECONCILER else Reason.PAUSED
        message = f"paused by {r.pause.by}: {r.pause.reason}"
    elif r.wave_ready_at is not None:
        reason = Reason.BAKING  # no countdown in the message: it would move `since` every step
        message = f"{counts}; wave {_wave_name(r)} baking for {format_duration(r.bakes[r.wave])}"
    else:
        reason = Reason.PROGRESSING
        message = f"{counts}; wave {r.wave + 1}/{len(r.waves)} ({_wave_name(r)})"
    _set(r, "Ready", False, reason, message, now)
    if r.stalled:
        r.conditions.pop("Reconciling", None)
    else:
        _set(r, "Reconciling", True, reason, message, now)


def pause(rollout: Rollout, by: str, reason: str, now: float) -> Rollout:
    """A person pauses the rollout (the progress deadline keeps running)."""
    r = copy.deepcopy(rollout)
    if r.phase in (Phase.COMPLETE, Phase.ABORTED):
        return r
    r.pause = Pause(by, reason, now)
    r.phase = Phase.PAUSED
    return r


def resume(rollout: Rollout, now: float) -> Rollout:
    """Lift a pause, or restart an aborted rollout; a person acting counts as progress."""
    r = copy.deepcopy(rollout)
    if r.phase in (Phase.PAUSED, Phase.ABORTED):
        if r.phase is Phase.ABORTED:
            # Restart the waves: a rolled-back fleet must pass the canary gate again.
            r.wave = 0
            r.wave_ready_at = None
        r.pause = None
        r.phase = Phase.PROGRESSING
        r.last_progress_at = now  # the next step clears Stalled, and says so (Notify resolved)
        # Targets a rollback put back count as progress again when they re-converge.
        r.most_converged = sum(1 for t in r.targets.values() if t.converged)
    return r


def abort(rollout: Rollout, by: str, now: float) -> tuple[Rollout, list[Action]]:
    """Stop applying; what converged stays as it is (rollback is its own command).

    The alerts the rollout raised are resolved: an aborted rollout neither progresses nor
    stalls, and whoever was paged should hear that somebody acted.
    """
    actions: list[Action] = []
    if rollout.phase is not Phase.ABORTED:
        message = f"the rollout was aborted by {by}"
        if rollout.stalled and rollout.stall_alerted_at is not None:
            actions.append(Notify("stalled", "resolved", (), message))
        if rollout.phase is Phase.PAUSED and rollout.pause and rollout.pause.by == RECONCILER:
            actions.append(Notify("paused", "resolved", (), message))
    r = copy.deepcopy(rollout)
    r.phase = Phase.ABORTED
    r.conditions.pop("Reconciling", None)
    r.conditions.pop("Stalled", None)
    _set(r, "Ready", False, Reason.ABORTED, f"aborted by {by}", now)
    return r, actions
