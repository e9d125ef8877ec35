"""How a rollout reads to a person (``rollout status``, ``skew``'s top line) and to a machine.

Stalled is always the verdict as of now (:func:`reconciler.audit.verdict.rollout_stall`), never only
the last step's condition: a rollout nobody steps any more still reads STALLED once overdue.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from ..audit.results import revision_label
from ..audit.verdict import rollout_stall
from ..model.duration import format_duration
from ..model.inventory import RolloutPolicy
from ..model.rollout import Phase, Quarantine, Rollout, TargetProgress
from .canary import lines as canary_lines
from .canary import summary


def quarantine_line(bundle: str, q: Quarantine, now: float, tags: Mapping[str, str]) -> str:
    """``support-agent v47: QUARANTINED 6h56m — rolled back to v46 by alice at ...``."""
    to = f" to {revision_label(q.to_revision, tags)}" if q.to_revision else ""
    at = dt.datetime.fromtimestamp(q.at, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"{bundle} {revision_label(q.revision, tags)}: QUARANTINED {format_duration(now - q.at)}"
        f" — rolled back{to} by {q.by} at {at}; held until a commit changes the bundle or "
        "`reconciler rollout resume`"
    )


def waiting(r: Rollout, now: float) -> str:
    """``AwaitingPromotion: staging completed … (1h20m of soak left)`` or ``WaitingForWindow:
    …; opens Mon 2026-12-07 09:00 Europe/Berlin (in 2d3h)``; "" when nothing holds it."""
    held = r.held
    if held is None or not r.active:
        return ""
    left = ""
    if held.until is not None and held.until > now:
        left = format_duration(held.until - now)
        left = f" ({left} of soak left)" if held.reason == "AwaitingPromotion" else f" (in {left})"
    return f"{held.reason}: {held.message}{left}"


def headline(r: Rollout, policy: RolloutPolicy, now: float, tags: Mapping[str, str]) -> str:
    """``support-agent v47: 4/6 targets (67%), STALLED 5h12m at wave 2 — ap-south-1: ...``."""
    done = sum(1 for t in r.targets.values() if t.converged)
    total = len(r.targets)
    text = f"{r.bundle} {revision_label(r.to_revision, tags)}: {done}/{total} targets "
    text += f"({r.coverage:.0%})"
    wave = f"wave {min(r.wave + 1, len(r.waves))}/{len(r.waves)}"
    stalled, _, _ = rollout_stall(r, policy, now)
    if stalled:
        since = format_duration(now - max(r.started_at, r.last_progress_at))
        text += f", STALLED {since} at {wave}"
        if r.rollback_reason:
            text += f" ({r.rollback_reason})"
    elif r.phase is Phase.PAUSED and r.pause:
        left = r.deadline(policy.progress_deadline) - now
        text += f", PAUSED by {r.pause.by} at {wave} ({format_duration(left)} to the deadline)"
    elif r.held is not None and r.active:
        text += f", WAITING at {wave} — {waiting(r, now)}"
        return text
    elif r.awaiting_eval and r.active:
        text += f", AWAITING EVAL at {wave}"
    elif r.phase is Phase.COMPLETE:
        text += ", complete"
    elif r.phase is Phase.ABORTED:
        ready = r.conditions.get("Ready")
        text += f", ABORTED ({ready.reason})" if ready else ", ABORTED"
    elif r.canary is not None and r.canary.holding:
        text += f", {summary(r.canary)}"
    else:
        text += f", progressing at {wave}"
    blocking = [
        f"{name}: {_why(t)}"
        for name, t in sorted(r.targets.items())
        if t.wave <= r.wave and (not t.converged or (t.healthy is False and not t.advisory))
    ]
    if blocking and r.active:
        text += " — " + "; ".join(blocking[:3]) + (" …" if len(blocking) > 3 else "")
    return text


def _why(t: TargetProgress) -> str:
    if not t.converged:
        return t.reason or "not converged"
    return f"health failing {t.fail_streak}x"


def status_json(
    r: Rollout, policy: RolloutPolicy, now: float, quarantine: Quarantine | None = None
) -> dict[str, Any]:
    """The rollout as ``rollout status --format json`` and ``/status`` show it (as of now)."""
    data = r.to_json()
    data["coverage"] = round(r.coverage, 4)
    data["stalled"] = rollout_stall(r, policy, now)[0]
    data["quarantined"] = quarantine is not None
    data["deadline_in_seconds"] = (
        None
        if not r.active or r.held is not None  # a legitimate wait stops the clock
        else round(r.deadline(policy.progress_deadline) - now, 3)
    )
    if r.held is not None and r.active:
        until = r.held.until
        data["waiting"] = {
            "reason": r.held.reason,
            "message": waiting(r, now),
            "since": r.held.since,
            "until": until,
            "left_seconds": None if until is None else round(max(until - now, 0.0), 3),
        }
    data["conditions"] = list(data["conditions"].values())
    return data


def status_text(
    r: Rollout,
    policy: RolloutPolicy,
    now: float,
    tags: Mapping[str, str],
    quarantine: Quarantine | None = None,
) -> str:
    lines = [headline(r, policy, now, tags)]
    if quarantine is not None:
        lines.insert(0, quarantine_line(r.bundle, quarantine, now, tags))
    source = revision_label(r.from_revision, tags)
    target = revision_label(r.to_revision, tags)
    lines.append(f"  revision: {source} -> {target}   phase: {r.phase}")
    for index, name in enumerate(r.waves):
        members = sorted(n for n, t in r.targets.items() if t.wave == index)
        done = sum(1 for n in members if r.targets[n].converged)
        mark = "done" if index < r.wave else ("current" if index == r.wave else "waiting")
        bake = f", bake {format_duration(r.bakes[index])}" if r.bakes[index] else ""
        lines.append(f"  wave {index + 1} {name}: {done}/{len(members)} converged ({mark}{bake})")
    if r.active:
        left = r.deadline(policy.progress_deadline) - now
        deadline = (
            f"{format_duration(left)} until the deadline"
            if left >= 0
            else f"past the deadline by {format_duration(-left)}"
        )
        if r.held is not None:
            lines.append(f"  waiting: {waiting(r, now)}")
            lines.append("  deadline: stopped while it waits; it restarts when the wait ends")
        elif r.pause:
            lines.append(
                f"  paused by {r.pause.by} {format_duration(now - r.pause.at)} ago: "
                f"{r.pause.reason}; {deadline}"
            )
        else:
            lines.append(f"  deadline: {deadline}")
    if r.canary is not None:
        lines += canary_lines(r.canary)
    for name, t in sorted(r.targets.items()):
        if t.advisory and t.healthy is False:
            lines.append(f"  warning: {name}: advisory health check failing ({t.fail_streak}x)")
    for condition in r.conditions.values():
        lines.append(
            f"  {condition.type}={str(condition.status).lower()} {condition.reason}: "
            f"{condition.message} (since {format_duration(now - condition.since)} ago)"
        )
    stalled, _, message = rollout_stall(r, policy, now)
    if stalled and not r.stalled:
        lines.append(
            f"  Stalled=true ProgressDeadlineExceeded: {message} (as of now: nothing has "
            "stepped the rollout since)"
        )
    return "\n".join(lines)


def verdict_lines(audit: Any, now: float) -> list[str]:
    """The top lines of ``skew`` and the page: each bundle's rollout or quarantine, as judged."""
    lines = []
    for bundle, verdict in audit.verdicts.items():
        if verdict.quarantine is not None:
            lines.append(quarantine_line(bundle, verdict.quarantine, now, audit.tags))
        elif verdict.rollout is not None:
            lines.append(headline(verdict.rollout, audit.inventory.rollout, now, audit.tags))
        elif verdict.waiting is not None:
            reason, message, _ = verdict.waiting
            lines.append(f"{bundle}: WAITING — {reason}: {message}")
    return lines
