"""Promotion between environments, judged (design §14): may wave 1 of a digest start here, given
what the upstream environment's recorded rollout of the same content says? Pure (no I/O).

"The same digest" is the bundle's **content digest**: the digest of the desired render of the
bundle at that revision, without any target's overlay (``reconciler render BUNDLE``'s
``digest``; the one ``eval record`` names). Two environments whose targets carry different
overlays of the same bundle revision promote; a change to the bundle's own content does not.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from .duration import format_duration
from .rollout import ConditionType, Phase, Quarantine, Reason, Rollout, Wait, overdue


@dataclass(frozen=True)
class Upstream:
    """What the upstream environment's state says of one bundle (read by the driver)."""

    environment: str
    rollout: Rollout | None = None  #: its recorded rollout of the bundle, if any
    quarantine: Quarantine | None = None  #: its quarantine of our content digest, if any
    progress_deadline: float = 900.0  #: its own, to judge whether it is stalled as of now
    error: str = ""  #: its state could not be read (then nothing above is known)


def at(moment: float) -> str:
    """``2026-12-07 08:00 UTC``."""
    return dt.datetime.fromtimestamp(moment, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def short(digest: str) -> str:
    return digest.removeprefix("sha256:")[:12]


def wait(upstream: Upstream, content: str, soak: float, now: float) -> Wait | None:
    """Why wave 1 of ``content`` must wait for ``upstream`` (None: it may start)."""
    up, digest = upstream.environment, short(content)
    reason = Reason.AWAITING_PROMOTION
    if upstream.error:
        why = f"cannot read {up}'s state ({upstream.error}); it must share --state"
        return Wait(reason, f"{up}: {why}", stalled=f"promotion from {up}: {why}")
    if upstream.quarantine is not None:
        q = upstream.quarantine
        return Wait(reason, f"{up} rolled back {digest} ({q.by} at {at(q.at)}): not promoted")
    r = upstream.rollout
    if r is None or r.content != content:
        return Wait(reason, f"{up} has not started {digest}")
    if r.phase is Phase.ABORTED:
        ready = r.conditions.get(ConditionType.READY)
        said = ready.message if ready is not None else "aborted"
        return Wait(reason, f"{up}'s rollout of {digest} ended: {said}; it must complete again")
    if r.phase is not Phase.COMPLETE:
        if overdue(r, upstream.progress_deadline, now):
            stall = r.conditions.get(ConditionType.STALLED)
            said = stall.message if stall is not None else "past its progress deadline"
            message = f"{up} has not completed {digest}: it is stalled ({said})"
            return Wait(reason, message, stalled=message)
        ready = r.conditions.get(ConditionType.READY)
        said = ready.message if ready is not None else str(r.phase)
        return Wait(reason, f"{up} has not completed {digest}: {said}")
    done = r.completed_at if r.completed_at is not None else r.last_progress_at
    ends = done + soak
    if now < ends:
        message = f"{up} completed {digest} at {at(done)}; soak {format_duration(soak)} ends"
        return Wait(reason, f"{message} {at(ends)}", until=ends)
    return None


def soak_left(held_until: float | None, now: float) -> str:
    """``1h20m of soak left`` for a promotion wait that ends at ``held_until``."""
    if held_until is None:
        return ""
    return f"{format_duration(held_until - now)} of soak left"
