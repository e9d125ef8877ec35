"""How a rollout reads to a person (``rollout status``, ``skew``'s top line) and to a machine."""

from __future__ import annotations

from typing import Any

from ..model.duration import format_duration
from .model import Phase, Rollout, TargetProgress


def headline(r: Rollout, progress_deadline: float, now: float, tags: dict[str, str]) -> str:
    """``support-agent v47: 4/6 targets (67%), STALLED 5h12m at wave 2 — ap-south-1: ...``."""
    done = sum(1 for t in r.targets.values() if t.converged)
    total = len(r.targets)
    label = tags.get(r.to_revision) or r.to_revision[:7]
    text = f"{r.bundle} {label}: {done}/{total} targets ({r.coverage:.0%})"
    wave = f"wave {min(r.wave + 1, len(r.waves))}/{len(r.waves)}"
    if r.stalled:
        since = format_duration(now - max(r.started_at, r.last_progress_at))
        text += f", STALLED {since} at {wave}"
    elif r.phase is Phase.PAUSED and r.pause:
        left = r.deadline(progress_deadline) - now
        text += f", PAUSED by {r.pause.by} at {wave} ({format_duration(left)} to the deadline)"
    elif r.phase is Phase.COMPLETE:
        text += ", complete"
    elif r.phase is Phase.ABORTED:
        ready = r.conditions.get("Ready")
        text += f", ABORTED ({ready.reason})" if ready else ", ABORTED"
    else:
        text += f", progressing at {wave}"
    blocking = [
        f"{name}: {_why(t)}"
        for name, t in sorted(r.targets.items())
        if t.wave <= r.wave and (not t.converged or t.healthy is False)
    ]
    if blocking and r.phase is not Phase.COMPLETE:
        text += " — " + "; ".join(blocking[:3]) + (" …" if len(blocking) > 3 else "")
    return text


def _why(t: TargetProgress) -> str:
    if not t.converged:
        return t.reason or "not converged"
    return f"health failing {t.fail_streak}x"


def status_json(r: Rollout, progress_deadline: float, now: float) -> dict[str, Any]:
    """The rollout as ``rollout status --format json`` and ``/status`` show it."""
    data = r.to_json()
    data["coverage"] = round(r.coverage, 4)
    data["stalled"] = r.stalled
    data["deadline_in_seconds"] = (
        None
        if r.phase in (Phase.COMPLETE, Phase.ABORTED)
        else round(r.deadline(progress_deadline) - now, 3)
    )
    data["conditions"] = list(data["conditions"].values())
    return data


def status_text(r: Rollout, progress_deadline: float, now: float, tags: dict[str, str]) -> str:
    lines = [headline(r, progress_deadline, now, tags)]
    source = tags.get(r.from_revision or "", (r.from_revision or "-")[:7])
    target = tags.get(r.to_revision, r.to_revision[:7])
    lines.append(f"  revision: {source} -> {target}   phase: {r.phase}")
    for index, name in enumerate(r.waves):
        members = sorted(n for n, t in r.targets.items() if t.wave == index)
        done = sum(1 for n in members if r.targets[n].converged)
        mark = "done" if index < r.wave else ("current" if index == r.wave else "waiting")
        bake = f", bake {format_duration(r.bakes[index])}" if r.bakes[index] else ""
        lines.append(f"  wave {index + 1} {name}: {done}/{len(members)} converged ({mark}{bake})")
    if r.pause:
        left = r.deadline(progress_deadline) - now
        deadline = (
            f"{format_duration(left)} until the deadline"
            if left >= 0
            else f"past the deadline by {format_duration(-left)}"
        )
        lines.append(
            f"  paused by {r.pause.by} {format_duration(now - r.pause.at)} ago: "
            f"{r.pause.reason}; {deadline}"
        )
    for condition in r.conditions.values():
        lines.append(
            f"  {condition.type}={str(condition.status).lower()} {condition.reason}: "
            f"{condition.message} (since {format_duration(now - condition.since)} ago)"
        )
    return "\n".join(lines)
