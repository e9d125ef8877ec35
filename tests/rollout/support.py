"""Builders for rollout tests: policies, observations, and a fake fleet on a fake clock.

Time is a plain float passed to every step; nothing sleeps. The fleet persists the rollout as
JSON after every step and checks that resuming from that JSON gives the very same step, the way
the driver would after being killed.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from reconciler.model.inventory import RolloutPolicy
from reconciler.model.rollout import Action, Observation, Rollout
from reconciler.rollout import engine, steering

REVISION = "c47"

#: What one re-fetch (and health check) of a target can find.
LAGGING = Observation(False, "lagging at v46")
UNREACHABLE = Observation(False, "unreachable: connection refused", health=False)
OK = Observation(True, health=True)  #: converged, health check passed
SICK = Observation(True, health=False)  #: converged, health check failed
UNCHECKED = Observation(True)  #: converged, no health check this step


def wave(name: str, *targets: str, bake: float = 0.0) -> dict[str, Any]:
    return {"name": name, "targets": list(targets), "bake": bake}


def policy(
    *waves: dict[str, Any],
    progress_deadline: float = 900.0,
    successes: int = 1,
    failures: int = 2,
    on_stall: Literal["alert", "rollback"] = "alert",
    self_heal: bool = False,
) -> RolloutPolicy:
    return RolloutPolicy.model_validate(
        {
            "waves": list(waves),
            "progress_deadline": progress_deadline,
            "health": {"successes": successes, "failures": failures},
            "on_stall": on_stall,
            "self_heal": self_heal,
        }
    )


def begin(
    targets: list[str],
    rollout_policy: RolloutPolicy,
    now: float = 0.0,
    before: dict[str, str | None] | None = None,
) -> Rollout:
    """A rollout from c46 to c47; every target ran c46 before unless ``before`` says otherwise."""
    ran = {name: "c46" for name in targets} if before is None else before
    return engine.start(
        environment="production",
        bundle="support-agent",
        from_revision="c46",
        to_revision=REVISION,
        digest="sha256:47",
        targets=targets,
        policy=rollout_policy,
        now=now,
        before=ran,
    )


def persisted(rollout: Rollout) -> Rollout:
    """The rollout as the driver would load it back after a restart."""
    return Rollout.from_json(json.loads(json.dumps(rollout.to_json())))


def conditions(rollout: Rollout) -> dict[str, tuple[bool, str, str]]:
    """Every condition as (status, reason, message); checks the parts every condition shares."""
    for kind, condition in rollout.conditions.items():
        assert condition.type == kind
        assert condition.revision == REVISION
    return {k: (c.status, c.reason, c.message) for k, c in rollout.conditions.items()}


def since(rollout: Rollout) -> dict[str, float]:
    return {k: c.since for k, c in rollout.conditions.items()}


class Fleet:
    """Targets that report what the test says (lagging until told otherwise), and one rollout.

    ``step(now, name=observation, ...)`` changes what those targets report from now on, runs one
    ``advance`` and returns its actions. Applies change nothing by themselves: only what a target
    reports does.
    """

    def __init__(
        self,
        targets: list[str],
        rollout_policy: RolloutPolicy,
        now: float = 0.0,
        before: dict[str, str | None] | None = None,
    ):
        self.policy = rollout_policy
        self.rollout = begin(targets, rollout_policy, now, before)
        self.seen: dict[str, Observation] = {name: LAGGING for name in targets}
        #: require_eval: why no wave may start ("" once a passing eval exists).
        self.awaiting_eval = ""

    def step(self, now: float, **changes: Observation) -> list[Action]:
        assert set(changes) <= set(self.seen), f"unknown targets {set(changes) - set(self.seen)}"
        self.seen.update(changes)
        before = self.rollout.to_json()
        waiting = self.awaiting_eval
        rollout, actions = engine.advance(
            self.rollout, self.policy, dict(self.seen), now, awaiting_eval=waiting
        )
        assert self.rollout.to_json() == before, "advance changed its input"
        # Killed right after persisting the previous step: the same step from the stored state.
        resumed = engine.advance(
            persisted(self.rollout), self.policy, dict(self.seen), now, awaiting_eval=waiting
        )
        assert resumed == (rollout, actions)
        assert persisted(rollout) == rollout
        self.rollout = rollout
        return actions

    def pause(self, now: float, by: str, reason: str) -> None:
        self.rollout = persisted(steering.pause(self.rollout, by, reason, now))

    def resume(self, now: float) -> None:
        self.rollout = persisted(steering.resume(self.rollout, now))

    def reverted(self, now: float, **failed: str) -> list[Action]:
        """The driver wrote the revert (``failed``: target -> why a write failed)."""
        rollout, actions = steering.reverted(self.rollout, failed, now)
        self.rollout = persisted(rollout)
        return actions

    def abort(self, now: float, by: str) -> list[Action]:
        rollout, actions = steering.abort(self.rollout, by, now)
        self.rollout = persisted(rollout)
        return actions

    @property
    def conditions(self) -> dict[str, tuple[bool, str, str]]:
        return conditions(self.rollout)

    @property
    def since(self) -> dict[str, float]:
        return since(self.rollout)
