"""A rollout's traffic canary, step by step (design §12.1): pure decisions over
:class:`~reconciler.model.canary_progress.CanaryProgress`; the driver's
:mod:`.canarying` does what they ask (stage, write the flag, read Prometheus) and hands back
what it found. No I/O, no clock.

A step stages the new digest in every group, sets the canary weight in one flag write, and
bakes; the judge looks once (:mod:`reconciler.canary.schedule`). A pass moves to the next step,
thin samples wait (past ``progress_deadline`` the engine says Stalled, naming them), a failing
critical metric aborts (weight 0, quarantine, ``CanaryFailed``), a failing non-critical one
holds (``CanaryMarginal``) until a person resumes or aborts.
"""

from __future__ import annotations

import copy
import math
from enum import StrEnum
from typing import Any

from ..canary.flag import weight_of
from ..canary.judge import Cell, Verdict
from ..canary.schedule import look_at
from ..model.canary import CanarySpec
from ..model.canary_progress import CanaryProgress, CanaryState
from ..model.codes import AlertCondition, Level
from ..model.rollout import CANARY_PAUSE, ConditionType, Notify, Pause, Phase, Reason, Rollout
from .conditions import RECONCILER, set_condition


class Need(StrEnum):
    """What the canary asks of the driver this step."""

    NOTHING = "nothing"
    STAGE = "stage"  #: stage the new digest in every group
    WRITE = "write"  #: write the current step's weight (one flag write)
    LOOK = "look"  #: read the samples and judge the step
    ZERO = "zero"  #: write the canary weight back to 0 (failed, or aborted by a person)
    SETTLE = "settle"  #: both payloads name the rollout's digest, weight 0


def begin(spec: CanarySpec, content: str, stable: tuple[str, str | None] | None) -> CanaryProgress:
    """The canary of a new rollout of ``content``: plain when the flag has no baseline yet
    (``stable`` None: the first rollout creates the flag), passed when it already serves it."""
    progress = CanaryProgress(
        canary=content,
        stable=stable[0] if stable else None,
        stable_revision=stable[1] if stable else None,
        steps=list(spec.steps),
        bake=spec.bake,
    )
    if stable is None:
        progress.state = CanaryState.PLAIN
    elif stable[0] == content:
        progress.state, progress.step = CanaryState.PASSED, len(spec.steps)
    return progress


def need(r: Rollout, spec: CanarySpec, now: float) -> Need:
    """What to do for ``r``'s canary now."""
    c = r.canary
    if c is None:
        return Need.NOTHING
    if c.weight > 0 and (c.state is CanaryState.FAILED or r.phase is Phase.ABORTED):
        return Need.ZERO
    if r.phase is Phase.ABORTED:
        return Need.NOTHING
    if c.state in (CanaryState.PLAIN, CanaryState.PASSED) and r.phase is Phase.COMPLETE:
        return Need.SETTLE
    if r.phase is not Phase.PROGRESSING:
        return Need.NOTHING
    if c.state is CanaryState.STAGING:
        return Need.STAGE
    if c.state is CanaryState.BAKING and c.written_at is None:
        return Need.WRITE
    if c.state is CanaryState.WAITING:
        return Need.LOOK
    if c.state is CanaryState.BAKING and c.written_at is not None:
        when = look_at(
            started=c.written_at, bake=c.bake, interval=spec.judge.interval, enough_at=c.written_at
        )
        if when is not None and now >= when:
            return Need.LOOK
    return Need.NOTHING


def staged(rollout: Rollout, failure: str, now: float) -> Rollout:
    """The new digest was staged in every group (``failure`` "": it was; else why not)."""
    r = copy.deepcopy(rollout)
    assert r.canary is not None
    if failure:
        r.canary.message = failure
        return r
    r.canary.state, r.canary.message = CanaryState.BAKING, ""
    r.last_progress_at = now
    return r


def written(rollout: Rollout, weight: int, now: float) -> Rollout:
    """The step's weight was written (or 0 after a failure or an abort)."""
    r = copy.deepcopy(rollout)
    c = r.canary
    assert c is not None
    c.weight = weight
    if c.state is CanaryState.BAKING:
        c.written_at = now
        c.table, c.served, c.message = [], None, ""
        r.last_progress_at = now
    return r


def step_weight(c: CanaryProgress) -> int:
    """The weight the current step writes."""
    return weight_of(c.share)


def settled(rollout: Rollout) -> Rollout:
    """The flag names the rollout's digest on both sides, with the canary weight at 0."""
    r = copy.deepcopy(rollout)
    assert r.canary is not None
    r.canary.state, r.canary.weight, r.canary.message = CanaryState.SETTLED, 0, ""
    r.canary.stable, r.canary.stable_revision = r.canary.canary, r.to_revision
    return r


def looked(
    rollout: Rollout, verdict: Verdict, served: float | None, now: float
) -> tuple[Rollout, list[Notify]]:
    """Take in the judge's one look at the step: pass (next step, or every step passed), wait
    (thin segments), hold (CanaryMarginal) or abort (CanaryFailed: the driver then writes the
    weight to 0 and quarantines the digest)."""
    r = copy.deepcopy(rollout)
    c = r.canary
    assert c is not None
    c.table, c.served, c.looked_at = [row(cell) for cell in verdict.cells], served, now
    decision = verdict.decision
    actions: list[Notify] = []
    if decision == "wait":
        c.state = CanaryState.WAITING
        thin = sorted({f"{cell.metric} [{cell.segment}]" for cell in verdict.thin})
        c.message = "too few samples in " + ", ".join(thin)
        return r, actions
    if decision == "pass":
        c.step += 1
        # The share served was the passed step's: the next step's is measured at its own look.
        c.written_at, c.message, c.served = None, "", None
        c.state = CanaryState.PASSED if c.step >= len(c.steps) else CanaryState.BAKING
        r.last_progress_at = now
        return r, actions
    failed = decision == "abort"
    c.state = CanaryState.FAILED if failed else CanaryState.MARGINAL
    kind = ConditionType.CANARY_FAILED if failed else ConditionType.CANARY_MARGINAL
    reason = Reason.CANARY_FAILED if failed else Reason.CANARY_MARGINAL
    where = f"step {c.step + 1}/{len(c.steps)} ({c.share:.0%})"
    what = (
        "the canary failed: weight back to 0, digest quarantined"
        if failed
        else "the canary holds at its weight until a person resumes or aborts"
    )
    c.message = f"{what}; {verdict.reason}"
    message = f"{where}: {c.message}"
    r.pause = Pause(RECONCILER, message, now, CANARY_PAUSE)
    r.phase = Phase.PAUSED
    set_condition(r, kind, True, reason, message, now)
    cells = tuple((f"{cell.metric} [{cell.segment}]", cell.describe()) for cell in verdict.failed)
    level = Level.ERROR if failed else Level.WARNING
    actions.append(Notify(AlertCondition.PAUSED, "firing", cells, message, level))
    return r, actions


def resumed(rollout: Rollout) -> Rollout:
    """A person resumed: a marginal canary goes on to its next step; a failed one starts over
    from its first step (its weight is 0 already)."""
    r = copy.deepcopy(rollout)
    c = r.canary
    r.conditions.pop(ConditionType.CANARY_FAILED, None)
    r.conditions.pop(ConditionType.CANARY_MARGINAL, None)
    if c is None:
        return r
    if c.state is CanaryState.MARGINAL:
        c.step += 1
        c.state = CanaryState.PASSED if c.step >= len(c.steps) else CanaryState.BAKING
        c.written_at = None
    elif c.state is CanaryState.FAILED:
        c.step, c.state, c.written_at = 0, CanaryState.STAGING, None
    c.message = ""
    return r


def row(cell: Cell) -> dict[str, Any]:
    """One row of the judge's table, JSON-safe (NaN as None)."""

    def num(value: float) -> float | None:
        return None if math.isnan(value) else value

    return {
        "metric": cell.metric,
        "segment": cell.segment,
        "verdict": cell.status,
        "canary": num(cell.canary),
        "stable": num(cell.stable),
        "canary_n": cell.canary_n,
        "stable_n": cell.stable_n,
        "difference": num(cell.difference) if not math.isinf(cell.difference) else None,
        "p": num(cell.p),
        "critical": cell.critical,
    }
