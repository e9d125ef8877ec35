"""The rollout panel: each bundle's rollout wave by wave, its conditions, and its deadline.

The same facts as ``reconciler rollout status`` (:func:`reconciler.report.rollout.status_text`),
judged as of now, laid out for a page: a wave's converged/total and bake remaining, each
condition with its reason and time, and the deadline as a moment the page counts down to.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..audit.results import Audit
from ..audit.verdict import rollout_stall
from ..model.duration import format_duration
from ..model.inventory import RolloutPolicy
from ..model.rollout import Rollout
from ..report.canary import JudgeRow, rows, summary
from ..report.rollout import headline
from ..revisions import revision_label
from .view import iso


@dataclass(frozen=True)
class WaveView:
    number: int
    name: str
    converged: int
    total: int
    state: str  #: done | current | waiting
    bake: str  #: ``10m00s``, or "" when the wave does not bake
    bake_left: str  #: ``4m12s left``, ``baked``, or ""


@dataclass(frozen=True)
class ConditionView:
    type: str
    status: str  #: ``True`` or ``False``
    reason: str
    message: str
    since: str  #: ISO 8601
    ago: str


@dataclass(frozen=True)
class Countdown:
    """The progress deadline: when, and how it reads as of the page's render."""

    at: float  #: Unix seconds (the script counts down to it)
    iso: str
    text: str  #: ``12m30s until the deadline`` or ``past the deadline by 3m10s``
    past: bool


@dataclass(frozen=True)
class Panel:
    """One bundle's rollout (or, without one, the verdict's words)."""

    bundle: str
    headline: str
    phase: str = ""
    from_revision: str = ""
    to_revision: str = ""
    waves: tuple[WaveView, ...] = ()
    conditions: tuple[ConditionView, ...] = ()
    deadline: Countdown | None = None
    pause: str = ""  #: ``paused by alice 5m ago: latency up``
    warnings: tuple[str, ...] = ()
    canary: str = ""  #: the canary's step and served share (design §12.1), "" without one
    judge: tuple[JudgeRow, ...] = ()  #: the judge's last table: metric x segment x verdict


def panels(audit: Audit, rollouts: Mapping[str, Rollout | None], now: float) -> list[Panel]:
    """A panel per bundle of the environment, in the inventory's order."""
    policy = audit.inventory.rollout
    out = []
    for bundle in audit.inventory.bundles:
        verdict = audit.verdicts.get(bundle)
        rollout = (verdict.rollout if verdict else None) or rollouts.get(bundle)
        if rollout is None:
            words = verdict.message if verdict and verdict.message else "nothing to roll out"
            out.append(Panel(bundle, f"{bundle}: no recorded rollout — {words}"))
            continue
        out.append(_panel(rollout, policy, now, audit.tags))
    return out


def countdown(at: float, now: float) -> Countdown:
    left = at - now
    text = (
        f"{format_duration(left)} until the deadline"
        if left >= 0
        else f"past the deadline by {format_duration(-left)}"
    )
    return Countdown(at, iso(at), text, left < 0)


def _panel(r: Rollout, policy: RolloutPolicy, now: float, tags: Mapping[str, str]) -> Panel:
    conditions = [
        ConditionView(
            c.type,
            str(c.status),
            c.reason,
            c.message,
            iso(c.since),
            format_duration(now - c.since),
        )
        for c in r.conditions.values()
    ]
    stalled, _, message = rollout_stall(r, policy, now)
    if stalled and not r.stalled:  # overdue, though nothing has stepped it since
        at = r.deadline(policy.progress_deadline)
        conditions.append(
            ConditionView(
                "Stalled",
                "True",
                "ProgressDeadlineExceeded",
                f"{message} (as of now: nothing has stepped the rollout since)",
                iso(at),
                format_duration(now - at),
            )
        )
    pause = ""
    if r.pause is not None and r.active:
        pause = f"paused by {r.pause.by} {format_duration(now - r.pause.at)} ago: {r.pause.reason}"
    warnings = tuple(
        f"{name}: advisory health check failing ({t.fail_streak}x)"
        for name, t in sorted(r.targets.items())
        if t.advisory and t.healthy is False
    )
    return Panel(
        bundle=r.bundle,
        headline=headline(r, policy, now, tags),
        phase=str(r.phase),
        from_revision=revision_label(r.from_revision, tags),
        to_revision=revision_label(r.to_revision, tags),
        waves=tuple(_waves(r, now)),
        conditions=tuple(conditions),
        deadline=countdown(r.deadline(policy.progress_deadline), now) if r.active else None,
        pause=pause,
        warnings=warnings,
        canary=summary(r.canary) if r.canary is not None else "",
        judge=tuple(rows(r.canary.table)) if r.canary is not None else (),
    )


def _waves(r: Rollout, now: float) -> list[WaveView]:
    out = []
    for index, name in enumerate(r.waves):
        members = [t for t in r.targets.values() if t.wave == index]
        bake = r.bakes[index] if index < len(r.bakes) else 0.0
        state = "done" if index < r.wave else ("current" if index == r.wave else "waiting")
        left = ""
        if state == "done" and bake:
            left = "baked"
        elif state == "current" and bake and r.wave_ready_at is not None:
            remaining = r.wave_ready_at + bake - now
            left = f"{format_duration(remaining)} left" if remaining > 0 else "baked"
        out.append(
            WaveView(
                number=index + 1,
                name=name,
                converged=sum(1 for t in members if t.converged),
                total=len(members),
                state=state,
                bake=format_duration(bake) if bake else "",
                bake_left=left,
            )
        )
    return out
