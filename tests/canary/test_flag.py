"""The release flag's strategy body (design §12.1): flexibleRollout at 100%, groupId the flag,
``stable`` variable and ``canary`` fixed with weights out of 1000 and JSON payloads naming digests
(the real Unleash takes it: tests/backends/unleash/test_release_client.py)."""

from __future__ import annotations

import json

import pytest

from reconciler.canary.flag import Release, release_strategy, weight_of

OLD, NEW = Release("sha256:" + "a" * 64, "a" * 40), Release("sha256:" + "b" * 64, "b" * 40)


def test_a_step_is_one_strategy_with_both_variants() -> None:
    body = release_strategy("support.release", "userId", OLD, NEW, weight_of(0.05))
    assert body["name"] == "flexibleRollout"
    assert body["parameters"] == {
        "rollout": "100",
        "stickiness": "userId",
        "groupId": "support.release",
    }
    stable, canary = body["variants"]
    assert (stable["name"], stable["weight"], stable["weightType"]) == ("stable", 950, "variable")
    assert (canary["name"], canary["weight"], canary["weightType"]) == ("canary", 50, "fix")
    assert stable["stickiness"] == canary["stickiness"] == "userId"
    assert json.loads(canary["payload"]["value"]) == {
        "digest": NEW.digest,
        "revision": NEW.revision,
    }
    assert canary["payload"]["type"] == "json"


def test_weights_are_out_of_1000_and_bounded() -> None:
    assert [weight_of(s) for s in (0.0, 0.01, 0.005, 0.25, 1.0)] == [0, 10, 5, 250, 1000]
    with pytest.raises(ValueError, match="between 0% and 100%"):
        weight_of(1.5)
    with pytest.raises(ValueError, match="between 0 and 1000, not 1001"):
        release_strategy("f", "userId", OLD, NEW, 1001)
