"""Where a traffic canary is within its rollout (design §12.1): plain, persisted data.

The rollout (:class:`reconciler.model.rollout.Rollout`) carries one of these while its
environment has ``rollout.canary``; the pure steps are :mod:`reconciler.rollout.canary_steps`,
the flag writes and the judge's reads :mod:`reconciler.rollout.canarying`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class CanaryState(StrEnum):
    """What the canary of a rollout is doing."""

    PLAIN = "plain"  #: no baseline (the flag does not exist yet): a plain rollout creates it
    STAGING = "staging"  #: the new digest is being staged in every group
    BAKING = "baking"  #: the step's weight is written; its bake runs, the judge has not looked
    WAITING = "waiting"  #: the bake is over but some metric x segment is thin: no look yet
    FAILED = "failed"  #: a critical metric failed: weight 0, digest quarantined, paused
    MARGINAL = "marginal"  #: a non-critical metric failed: held at its weight for a person
    PASSED = "passed"  #: every step passed: the groups switch (the waves), then it settles
    SETTLED = "settled"  #: the flag names the rollout's digest on both sides, weight 0


#: States in which no wave of the rollout may switch a group yet.
HOLDING = frozenset(
    {CanaryState.STAGING, CanaryState.BAKING, CanaryState.WAITING}
    | {CanaryState.FAILED, CanaryState.MARGINAL}
)


@dataclass
class CanaryProgress:
    """A rollout's canary: both digests, the step it is at, its flag write, the last look."""

    canary: str  #: the new bundle digest (the canary variant's payload)
    stable: str | None  #: the digest the stable variant serves (None: plain, first rollout)
    stable_revision: str | None
    steps: list[float]  #: shares of users, in order
    bake: float
    state: CanaryState = CanaryState.STAGING
    step: int = 0  #: index of the current step (``len(steps)`` once all passed)
    weight: int = 0  #: the canary weight (of 1000) last written
    written_at: float | None = None  #: when the current step's weight was written
    #: The judge's last table: one row per metric x segment (see :func:`row`).
    table: list[dict[str, Any]] = field(default_factory=list)
    served: float | None = None  #: the share of requests the canary served (metric counts)
    message: str = ""  #: why it is where it is, in one line (thin segments, failing cells)
    looked_at: float | None = None  #: when the judge last looked

    @property
    def holding(self) -> bool:
        """No group may switch yet: the canary is still stepping, or it failed or holds."""
        return self.state in HOLDING

    @property
    def share(self) -> float:
        """The current step's share of users (0 before the first, the last after all)."""
        if not self.steps:
            return 0.0
        return self.steps[min(self.step, len(self.steps) - 1)]

    def describe(self) -> str:
        """``canary step 2/4 (5% of users, 3.6% of requests served) baking``."""
        if self.state is CanaryState.PLAIN:
            return "first rollout: plain, creates the release flag"
        if self.state in (CanaryState.PASSED, CanaryState.SETTLED):
            return f"canary {self.state}: every step passed"
        where = f"step {min(self.step + 1, len(self.steps))}/{len(self.steps)}"
        served = f", {self.served:.1%} of requests served" if self.served is not None else ""
        return f"canary {where} ({self.share * 100:g}% of users{served}) {self.state}"

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CanaryProgress:
        data = dict(data)
        data["state"] = CanaryState(data["state"])
        return cls(**data)
