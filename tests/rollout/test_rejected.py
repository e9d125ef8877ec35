"""A permanent error on every part of a wave stalls the rollout at once (issue 20), the way
Flux's Stalling does: a target that refuses for good (unauthorized, not found, invalid) needs a
person, and no retry mends it, so waiting out the progress deadline only hides it."""

from __future__ import annotations

import pytest

from reconciler.audit.verdict import rollout_stall
from reconciler.model.rollout import Notify, Observation, Revert

from .support import OK, Fleet, policy, wave


def test_a_permanent_error_on_every_part_of_a_wave_stalls_at_once() -> None:
    # Flux's Stalling: a wave whose every target refuses for good needs a person; no retry can
    # mend it, so the rollout is Stalled at its first step, not after the progress deadline.
    fleet = Fleet(["a", "b", "c"], policy(wave("canary", "a", "b"), wave("rest", "c")))
    refused = Observation(False, "unreachable: unauthorized (HTTP 401)", failure="permanent")
    actions = fleet.step(0.0, a=refused, b=refused)
    status, reason, message = fleet.conditions["Stalled"]
    assert (status, reason) == (True, "TargetRejected")
    assert message == (
        "every target of wave 1/2 (canary) refuses for good, which no retry can mend: "
        "a: unreachable: unauthorized (HTTP 401) (+1 more) (needs a person)"
    )
    assert "Reconciling" not in fleet.conditions
    stalls = [a for a in actions if isinstance(a, Notify) and a.condition == "stalled"]
    assert [(n.state, n.message) for n in stalls] == [("firing", message)]
    assert not any(isinstance(a, Revert) for a in actions)  # a rollback would be refused too
    # Every consumer reads it as of now, with its reason, long before the deadline.
    stalled, _, said = rollout_stall(fleet.rollout, fleet.policy, 60.0)
    assert stalled and said == message
    # A second step says nothing new: one alert, and the condition keeps its time.
    assert not [a for a in fleet.step(60.0) if isinstance(a, Notify)]
    assert fleet.since["Stalled"] == 0.0
    # One part answers again (slowly): not doomed any more, the stall resolves.
    actions = fleet.step(120.0, b=Observation(False, "timed out", failure="transient"))
    assert "Stalled" not in fleet.conditions
    assert [(a.condition, a.state) for a in actions if isinstance(a, Notify)] == [
        ("stalled", "resolved")
    ]


@pytest.mark.parametrize(
    "seen",
    [
        # One part converged: the wave is not doomed as a whole; the deadline decides.
        {"a": OK, "b": Observation(False, "unauthorized (HTTP 401)", failure="permanent")},
        # One part is only slow: it may recover.
        {
            "a": Observation(False, "unauthorized (HTTP 401)", failure="permanent"),
            "b": Observation(False, "timed out", failure="transient"),
        },
    ],
)
def test_a_wave_not_refused_by_every_part_waits_for_the_deadline(
    seen: dict[str, Observation],
) -> None:
    fleet = Fleet(["a", "b"], policy(wave("canary", "a", "b")))
    fleet.step(0.0, **seen)
    fleet.step(900.0)
    assert "Stalled" not in fleet.conditions
    fleet.step(901.0)
    assert fleet.conditions["Stalled"][1] == "ProgressDeadlineExceeded"
