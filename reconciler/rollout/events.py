"""The event log of a rollout: what changed between two states of it, as plain records."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..model.rollout import Action, Apply, Notify, Revert, Rollout

Event = tuple[str, dict[str, Any]]


def started(rollout: Rollout) -> Event:
    """The first event of a rollout."""
    return (
        "rollout_started",
        {
            "bundle": rollout.bundle,
            "from": rollout.from_revision,
            "to": rollout.to_revision,
            "waves": rollout.waves,
        },
    )


def between(old: Rollout, new: Rollout, actions: Sequence[Action]) -> list[Event]:
    """Phase, wave and condition transitions from ``old`` to ``new``, and the actions taken."""
    events: list[Event] = []
    bundle = new.bundle
    if old.phase is not new.phase:
        events.append(("phase", {"bundle": bundle, "from": str(old.phase), "to": str(new.phase)}))
    if old.wave != new.wave:
        events.append(("wave", {"bundle": bundle, "wave": new.wave}))
    for kind, condition in new.conditions.items():
        before = old.conditions.get(kind)
        if before is None or before.since != condition.since:
            events.append(
                (
                    "condition",
                    {
                        "bundle": bundle,
                        "type": kind,
                        "status": condition.status,
                        "reason": condition.reason,
                        "message": condition.message,
                    },
                )
            )
    was, now = old.canary, new.canary
    if now is not None and (
        was is None or (was.state, was.step, was.weight) != (now.state, now.step, now.weight)
    ):
        shown = {"state": str(now.state), "step": now.step, "weight": now.weight}
        events.append(("canary", {"bundle": bundle, **shown, "served": now.served}))
    for kind in old.conditions.keys() - new.conditions.keys():
        events.append(("condition_cleared", {"bundle": bundle, "type": kind}))
    for action in actions:
        if isinstance(action, Notify):
            alert = {"bundle": bundle, "condition": action.condition, "state": action.state}
            events.append(("alert", alert))
        elif isinstance(action, Apply):
            events.append(("apply", {"bundle": bundle, "target": action.target}))
        elif isinstance(action, Revert):
            targets = [{"target": t, "revision": r} for t, r in action.targets]
            events.append(("revert", {"bundle": bundle, "targets": targets}))
    return events
