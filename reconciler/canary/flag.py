"""The release flag's strategy on Unleash (design §12.1, backends.md): a ``flexibleRollout`` at
100% whose variants ``stable`` (variable weight) and ``canary`` (fixed weight, out of 1000) carry
JSON payloads naming digests; its group id is the flag's name. A step is one write of it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

#: Unleash variant weights are out of this.
WEIGHTS = 1000


@dataclass(frozen=True)
class Release:
    """What one variant serves: a bundle digest and the revision it was rendered from."""

    digest: str
    revision: str | None = None

    def payload(self) -> dict[str, str]:
        value = json.dumps({"digest": self.digest, "revision": self.revision}, sort_keys=True)
        return {"type": "json", "value": value}


def weight_of(share: float) -> int:
    """A step's share of users (0.05) as the canary variant's weight (50 of 1000)."""
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"a canary share must be between 0% and 100%, not {share:.4g}")
    return round(share * WEIGHTS)


def release_strategy(
    flag: str, stickiness: str, stable: Release, canary: Release, weight: int
) -> dict[str, Any]:
    """The strategy body to POST (first rollout) or PUT (each step): ``weight`` of 1000 users
    on ``canary``. Between rollouts the weight is 0 and both releases are the serving one."""
    if not 0 <= weight <= WEIGHTS:
        raise ValueError(f"a canary weight must be between 0 and {WEIGHTS}, not {weight}")

    def variant(name: str, release: Release, share: int, kind: str) -> dict[str, Any]:
        return {
            "name": name,
            "weight": share,
            "weightType": kind,
            "stickiness": stickiness,
            "payload": release.payload(),
        }

    return {
        "name": "flexibleRollout",
        "parameters": {"rollout": "100", "stickiness": stickiness, "groupId": flag},
        "variants": [
            variant("stable", stable, WEIGHTS - weight, "variable"),
            variant("canary", canary, weight, "fix"),
        ],
    }
