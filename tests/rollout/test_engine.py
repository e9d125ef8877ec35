"""The rollout state machine (design §10), driven step by step on a fake clock.

Every ``Fleet.step`` also checks that the step did not touch its input, that the result survives
JSON, and that a driver killed after persisting the previous step would take the very same step.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from reconciler.model.rollout import (
    Apply,
    Notify,
    Observation,
    Phase,
    Revert,
    Rollout,
    TargetProgress,
)
from reconciler.rollout import engine, steering
from reconciler.rollout.conditions import RECONCILER
from reconciler.rollout.engine import APPLY_BACKOFF, APPLY_BACKOFF_MAX

from .support import (
    LAGGING,
    OK,
    SICK,
    UNCHECKED,
    UNREACHABLE,
    Fleet,
    begin,
    persisted,
    policy,
    wave,
)

DAY = 86400.0
RECOVERED = Notify("paused", "resolved", (), "health checks recovered")
UNSTALLED = Notify("stalled", "resolved", (), "the rollout is progressing again")


def progressing(reason: str, message: str) -> dict[str, tuple[bool, str, str]]:
    """Ready False and Reconciling True, with the same reason and message."""
    return {"Ready": (False, reason, message), "Reconciling": (True, reason, message)}


def succeeded(message: str) -> dict[str, tuple[bool, str, str]]:
    return {"Ready": (True, "RolloutSucceeded", message)}


def stalled(message: str) -> tuple[bool, str, str]:
    """The Stalled condition."""
    return (True, "ProgressDeadlineExceeded", message)


def notifies(actions: list[Any]) -> list[Notify]:
    return [a for a in actions if isinstance(a, Notify)]


# --- start ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("waves", "targets", "names", "bakes", "members"),
    [
        pytest.param(
            [wave("canary", "canary-*", bake=600), wave("europe", "eu-*", bake=300)],
            ["eu-1", "canary-1", "us-1", "canary-2"],
            ["canary", "europe", "rest"],
            [600.0, 300.0, 0.0],
            {"eu-1": 1, "canary-1": 0, "us-1": 2, "canary-2": 0},
            id="targets no wave names go to a final implicit wave",
        ),
        pytest.param(
            [wave("canary", "canary-*"), wave("everything", "*", bake=60)],
            ["canary-1", "eu-1"],
            ["canary", "everything"],
            [0.0, 60.0],
            {"canary-1": 0, "eu-1": 1},
            id="every target named: no implicit wave",
        ),
        pytest.param(
            [wave("first", "eu-1"), wave("europe", "eu-*")],
            ["eu-2", "eu-1"],
            ["first", "europe"],
            [0.0, 0.0],
            {"eu-1": 0, "eu-2": 1},
            id="the first wave naming a target wins",
        ),
        pytest.param(
            [
                wave("canary", "canary-*", bake=600),
                wave("apac", "ap-*", bake=60),
                wave("europe", "eu-*", bake=300),
            ],
            ["canary-1", "eu-1"],
            ["canary", "europe"],
            [600.0, 300.0],
            {"canary-1": 0, "eu-1": 1},
            id="empty waves are dropped and the rest renumbered",
        ),
        pytest.param(
            [wave("apac", "ap-*", bake=60)],
            ["eu-1"],
            ["rest"],
            [0.0],
            {"eu-1": 0},
            id="only the implicit wave is left",
        ),
        pytest.param([], ["a", "b"], ["all"], [0.0], {"a": 0, "b": 0}, id="no waves: one wave"),
        pytest.param([], [], [], [], {}, id="no targets: no waves"),
    ],
)
def test_start_builds_waves_from_the_policy(
    waves: list[dict[str, Any]],
    targets: list[str],
    names: list[str],
    bakes: list[float],
    members: dict[str, int],
) -> None:
    rollout = begin(targets, policy(*waves), now=1000.0)

    assert rollout.waves == names
    assert rollout.bakes == bakes
    assert rollout.targets == {
        name: TargetProgress(wave=index, before="c46") for name, index in members.items()
    }
    assert (rollout.wave, rollout.wave_ready_at, rollout.phase) == (0, None, Phase.PROGRESSING)
    assert (rollout.started_at, rollout.last_progress_at) == (1000.0, 1000.0)
    assert (rollout.pause, rollout.stall_alerted_at, rollout.conditions) == (None, None, {})
    assert persisted(rollout) == rollout


def test_a_rollout_with_no_targets_completes_at_its_first_step() -> None:
    fleet = Fleet([], policy())

    assert fleet.step(0.0) == []
    assert fleet.rollout.phase is Phase.COMPLETE
    assert fleet.conditions == succeeded("0/0 targets converged")


# --- a full rollout ---------------------------------------------------------------------------

THREE_WAVES = policy(
    wave("canary", "canary", bake=600),
    wave("europe", "eu*", bake=300),
    wave("americas", "us*"),
    progress_deadline=1800,
)
CANARY = progressing("Progressing", "0/4 targets; wave 1/3 (canary)")
CANARY_BAKING = progressing("Baking", "1/4 targets; wave canary baking for 10m00s")
EUROPE = progressing("Progressing", "1/4 targets; wave 2/3 (europe)")
EUROPE_UNCONFIRMED = progressing("Progressing", "3/4 targets; wave 2/3 (europe)")
EUROPE_BAKING = progressing("Baking", "3/4 targets; wave europe baking for 5m00s")
AMERICAS = progressing("Progressing", "3/4 targets; wave 3/3 (americas)")

# (now, what changes in the fleet, actions, current wave, conditions)
FULL_ROLLOUT: list[tuple[float, dict[str, Observation], list[Any], int, dict[str, Any]]] = [
    (0, {}, [Apply("canary")], 0, CANARY),
    (3, {}, [], 0, CANARY),  # the apply has not converged yet, and its backoff runs
    (10, {"canary": OK}, [], 0, CANARY_BAKING),
    (300, {}, [], 0, CANARY_BAKING),
    # The canary is overwritten mid-bake: it is applied again and its bake starts over.
    (400, {"canary": Observation(False, "overwritten by hand")}, [Apply("canary")], 0, CANARY),
    (410, {"canary": OK}, [], 0, CANARY_BAKING),
    (1009, {}, [], 0, CANARY_BAKING),  # 600s after 410, not after 10
    (1010, {}, [Apply("eu1"), Apply("eu2")], 1, EUROPE),
    # eu2 converged but its health is not confirmed yet: the wave does not bake.
    (1020, {"eu1": OK, "eu2": UNCHECKED}, [], 1, EUROPE_UNCONFIRMED),
    (1030, {"eu2": OK}, [], 1, EUROPE_BAKING),
    (1329, {}, [], 1, EUROPE_BAKING),
    (1330, {}, [Apply("us1")], 2, AMERICAS),
    (1340, {"us1": OK}, [], 3, succeeded("4/4 targets converged")),
    (5000, {}, [], 3, succeeded("4/4 targets converged")),
]  # fmt: skip


def test_a_full_rollout_moves_wave_by_wave() -> None:
    fleet = Fleet(["canary", "eu1", "eu2", "us1"], THREE_WAVES)

    for now, changes, actions, current, expected in FULL_ROLLOUT:
        assert fleet.step(now, **changes) == actions, f"t={now}"
        assert fleet.rollout.wave == current, f"t={now}"
        assert fleet.conditions == expected, f"t={now}"

    assert fleet.rollout.phase is Phase.COMPLETE
    assert fleet.rollout.coverage == 1.0
    assert fleet.since == {"Ready": 1340}


# --- applies ----------------------------------------------------------------------------------


def test_apply_backoff_constants() -> None:
    assert (APPLY_BACKOFF, APPLY_BACKOFF_MAX) == (5.0, 300.0)


def test_an_apply_that_did_not_converge_is_retried_with_doubling_backoff() -> None:
    fleet = Fleet(["a"], policy(progress_deadline=DAY))
    # Waits after the 1st, 2nd, ... apply: 5, 10, 20, 40, 80, 160, then capped at 300.
    schedule = [
        (0.0, True),
        (4.9, False),
        (5.0, True),
        (14.9, False),
        (15.0, True),
        (34.9, False),
        (35.0, True),
        (75.0, True),
        (155.0, True),
        (314.9, False),
        (315.0, True),
        (614.9, False),
        (615.0, True),
        (914.9, False),
        (915.0, True),
    ]
    for now, applied in schedule:
        assert fleet.step(now) == ([Apply("a")] if applied else []), f"t={now}"
    assert fleet.rollout.targets["a"].applies == 9


def test_the_backoff_starts_again_once_a_target_converged() -> None:
    fleet = Fleet(["a"], policy(progress_deadline=DAY, self_heal=True))
    for now in (0.0, 5.0, 15.0, 35.0):  # four attempts: the next would wait 40 s
        assert fleet.step(now) == [Apply("a")], f"t={now}"
    assert fleet.step(40.0, a=OK) == []
    # Edited by hand much later: the repair goes out at once, then 5 s after.
    assert fleet.step(5000.0, a=LAGGING) == [Apply("a")]
    assert fleet.step(5004.9) == []
    assert fleet.step(5005.0) == [Apply("a")]


def test_a_target_that_keeps_flapping_does_not_hold_off_the_stall() -> None:
    fleet = Fleet(["a", "b"], policy(progress_deadline=900))
    fleet.step(0.0, a=OK)
    for now in range(100, 900, 100):  # a drifts and converges again: never more than 1/2
        fleet.step(float(now), a=LAGGING if now % 200 else OK)
    assert not fleet.rollout.stalled
    alerts = notifies(fleet.step(901.0, a=OK))
    assert [(n.condition, n.state) for n in alerts] == [("stalled", "firing")]


def test_backoff_is_per_target() -> None:
    fleet = Fleet(["a", "b"], policy(progress_deadline=DAY))

    assert fleet.step(0.0, b=OK) == [Apply("a")]
    assert fleet.step(1.0, b=LAGGING) == [Apply("b")]  # b's first apply does not wait for a's
    assert fleet.step(5.0) == [Apply("a")]
    assert fleet.step(6.0) == [Apply("b")]


def test_an_apply_never_marks_a_target_converged() -> None:
    fleet = Fleet(["a"], policy())

    assert fleet.step(0.0) == [Apply("a")]
    assert not fleet.rollout.targets["a"].converged
    # The re-fetch still finds the old content, and a green health check changes nothing.
    fleet.step(5.0, a=Observation(False, "lagging at v46", health=True))
    assert fleet.rollout.targets["a"] == TargetProgress(
        wave=0,
        before="c46",
        converged=False,
        healthy=True,
        ok_streak=1,
        applies=2,
        last_apply_at=5.0,
        reason="lagging at v46",
    )
    assert fleet.rollout.coverage == 0.0
    assert fleet.conditions == progressing("Progressing", "0/1 targets; wave 1/1 (all)")


def test_a_target_not_observed_is_not_converged() -> None:
    rollout = begin(["a"], policy())
    rollout, _ = engine.advance(rollout, policy(), {"a": OK}, 0.0)
    rollout, _ = engine.advance(rollout, policy(), {}, 10.0)

    assert not rollout.targets["a"].converged
    assert rollout.targets["a"].reason == "not observed"


def test_a_target_already_at_the_desired_content_is_never_applied() -> None:
    fleet = Fleet(["a", "b"], policy())

    assert fleet.step(0.0, a=OK, b=OK) == []
    assert fleet.rollout.phase is Phase.COMPLETE
    assert fleet.rollout.targets["a"].applies == 0
    assert fleet.conditions == succeeded("2/2 targets converged")


# --- health hysteresis -------------------------------------------------------------------------

HELD_CANARY = [wave("canary", "canary", bake=DAY), wave("europe", "eu*")]


@pytest.mark.parametrize(
    ("failures", "checks", "paused"),
    [
        (2, [True, False], False),  # one flap
        (2, [True, False, True, False], False),  # flaps, never twice in a row
        (2, [True, False, False], True),
        (1, [True, False], True),
        (3, [True, False, False], False),
        (3, [True, False, False, False], True),
    ],
)
def test_health_pauses_only_after_consecutive_failures(
    failures: int, checks: list[bool], paused: bool
) -> None:
    fleet = Fleet(["canary", "eu1"], policy(*HELD_CANARY, failures=failures, progress_deadline=DAY))
    for step, check in enumerate(checks):
        fleet.step(10.0 * step, canary=Observation(True, health=check))

    assert (fleet.rollout.phase is Phase.PAUSED) == paused
    assert fleet.rollout.pause is None or fleet.rollout.pause.by == RECONCILER


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"canary": Observation(False, "lagging", health=False)}, id="not converged"),
        pytest.param({"canary": LAGGING, "eu1": SICK}, id="in a later wave"),
    ],
)
def test_failing_health_that_does_not_pause(changes: dict[str, Observation]) -> None:
    fleet = Fleet(["canary", "eu1"], policy(*HELD_CANARY, progress_deadline=DAY))
    for now in (0.0, 10.0, 20.0):
        assert notifies(fleet.step(now, **changes)) == []

    assert fleet.rollout.phase is Phase.PROGRESSING


def test_a_failing_health_gate_pauses_and_its_recovery_resumes() -> None:
    fleet = Fleet(
        ["canary", "eu1"],
        policy(wave("canary", "canary", bake=600), wave("europe", "eu*"), successes=2),
    )
    baking = progressing("Baking", "1/2 targets; wave canary baking for 10m00s")
    gated = "paused by reconciler: health failing on canary (2 checks in a row)"
    paused = progressing("HealthCheckFailing", gated)

    assert fleet.step(0.0, canary=OK) == []
    assert fleet.conditions == progressing("Progressing", "1/2 targets; wave 1/2 (canary)")
    assert fleet.step(10.0) == []  # the second ok check: healthy
    assert fleet.conditions == baking
    assert fleet.step(20.0, canary=SICK) == []  # one failure is a flap
    assert fleet.conditions == baking

    assert fleet.step(30.0) == [
        Notify(
            "paused",
            "firing",
            (("canary", "health failing (2 checks in a row)"),),
            "health failing on canary (2 checks in a row)",
        )
    ]
    assert fleet.rollout.phase is Phase.PAUSED
    assert fleet.rollout.pause is not None
    assert (fleet.rollout.pause.by, fleet.rollout.pause.at) == (RECONCILER, 30.0)
    assert fleet.conditions == paused

    assert fleet.step(40.0, canary=OK) == []  # one ok of the two needed
    assert fleet.conditions == paused
    assert fleet.step(50.0) == [RECOVERED]
    assert (fleet.rollout.phase, fleet.rollout.pause) == (Phase.PROGRESSING, None)
    assert fleet.conditions == baking  # the bake started over when the gate failed
    assert fleet.step(649.0) == []
    assert fleet.step(650.0) == [Apply("eu1")]


def test_health_recovery_does_not_lift_a_persons_pause() -> None:
    fleet = Fleet(["canary", "eu1"], policy(wave("canary", "canary", bake=600), wave("eu", "eu*")))
    held = progressing("Paused", "paused by alice: checking the eval dashboard")

    fleet.step(0.0, canary=OK)
    fleet.pause(5.0, "alice", "checking the eval dashboard")
    for now, seen in [(10.0, SICK), (20.0, SICK), (30.0, OK), (40.0, OK), (700.0, OK)]:
        assert fleet.step(now, canary=seen) == [], f"t={now}"
        assert fleet.conditions == held, f"t={now}"
        assert fleet.rollout.pause is not None
        assert fleet.rollout.pause.by == "alice"

    fleet.resume(710.0)
    assert fleet.step(710.0) == [Apply("eu1")]  # baked long ago: the wave moves at once


def test_a_paused_gate_holds_while_its_target_is_unreachable() -> None:
    fleet = Fleet(["canary", "eu1"], policy(*HELD_CANARY, progress_deadline=DAY))
    fleet.step(0.0, canary=OK)
    fleet.step(10.0, canary=SICK)
    assert len(fleet.step(20.0)) == 1  # paused

    # Not converged any more is not "recovered": the gate holds and nothing is applied.
    assert fleet.step(30.0, canary=UNREACHABLE) == []
    assert fleet.rollout.phase is Phase.PAUSED
    assert fleet.step(40.0, canary=OK) == [RECOVERED]


def test_a_gate_that_recovers_as_the_last_wave_completes_resolves_its_alert() -> None:
    fleet = Fleet(["a"], policy())
    fleet.step(0.0, a=UNCHECKED)
    fleet.step(10.0, a=SICK)
    assert notifies(fleet.step(20.0))[0].state == "firing"

    assert fleet.step(30.0, a=OK) == [RECOVERED]
    assert (fleet.rollout.phase, fleet.rollout.pause) == (Phase.COMPLETE, None)
    assert fleet.conditions == succeeded("1/1 targets converged")


# --- progress deadline and stalls --------------------------------------------------------------


@pytest.mark.parametrize(
    ("started", "converged_at", "now", "stalled"),
    [
        (0.0, None, 900.0, False),
        (0.0, None, 900.5, True),
        (1000.0, None, 1900.0, False),  # counted from the start, not from zero
        (1000.0, None, 1901.0, True),
        (0.0, 600.0, 1500.0, False),  # a target converging resets it
        (0.0, 600.0, 1501.0, True),
    ],
)
def test_the_deadline_counts_from_the_later_of_start_and_last_progress(
    started: float, converged_at: float | None, now: float, stalled: bool
) -> None:
    fleet = Fleet(["a", "b"], policy(progress_deadline=900), now=started)
    fleet.step(started)
    if converged_at is not None:
        fleet.step(converged_at, a=OK)
    fleet.step(now)

    assert fleet.rollout.stalled == stalled
    assert ("Reconciling" in fleet.rollout.conditions) != stalled


def test_a_stall_names_the_blocking_targets_and_why() -> None:
    fleet = Fleet(["a", "b", "c"], policy(progress_deadline=900))
    assert fleet.step(0.0, b=UNREACHABLE, c=OK) == [Apply("a"), Apply("b")]

    assert fleet.step(901.0) == [
        Notify(
            "stalled",
            "firing",
            (("a", "lagging at v46"), ("b", "unreachable: connection refused")),
            "no progress for 15m01s at wave 1/1 (all)",
        ),
        Apply("a"),
        Apply("b"),
    ]
    assert fleet.conditions == {
        "Ready": (False, "Progressing", "1/3 targets; wave 1/1 (all)"),
        "Stalled": stalled("no progress for over 15m00s at wave 1/1 (all)"),
    }


# (now, whether a stall alert fires): stalled at 901, reminded every 900s while it lasts
STALL_REMINDERS = [
    (901.0, True),
    (960.0, False),
    (1800.0, False),
    (1801.0, True),
    (2000.0, False),
    (2700.0, False),
    (2701.0, True),
    (2711.0, False),
]


def test_a_stall_alert_repeats_every_deadline_and_resolves_on_progress() -> None:
    fleet = Fleet(["a", "b"], policy(progress_deadline=900))
    fleet.step(0.0)
    expected = {
        "Ready": (False, "Progressing", "0/2 targets; wave 1/1 (all)"),
        "Stalled": stalled("no progress for over 15m00s at wave 1/1 (all)"),
    }
    for now, fires in STALL_REMINDERS:
        alerts = [(n.condition, n.state) for n in notifies(fleet.step(now))]
        assert alerts == [("stalled", "firing")] * fires, f"t={now}"
        assert fleet.conditions == expected, f"t={now}"
        assert fleet.since["Stalled"] == 901.0, f"t={now}"

    assert notifies(fleet.step(3000.0, a=OK)) == [UNSTALLED]
    assert fleet.conditions == progressing("Progressing", "1/2 targets; wave 1/1 (all)")
    # A new stall is a new episode: alerted at once.
    assert notifies(fleet.step(3901.0))[0].message == "no progress for 15m01s at wave 1/1 (all)"


def test_a_stall_that_ends_in_completion_resolves_its_alert() -> None:
    fleet = Fleet(["a"], policy(progress_deadline=900))
    fleet.step(0.0)
    assert notifies(fleet.step(901.0))[0].state == "firing"

    assert fleet.step(1000.0, a=OK) == [UNSTALLED]
    assert fleet.rollout.phase is Phase.COMPLETE
    assert fleet.conditions == succeeded("1/1 targets converged")


def test_a_bake_longer_than_the_deadline_is_not_a_stall() -> None:
    long_bake = policy(wave("canary", "canary", bake=3600), progress_deadline=900)
    fleet = Fleet(["canary", "eu1"], long_bake)
    fleet.step(0.0, canary=OK)

    assert fleet.step(3599.0) == []
    assert fleet.conditions == progressing("Baking", "1/2 targets; wave canary baking for 1h00m")
    assert fleet.step(3600.0) == [Apply("eu1")]  # the wave moving is progress
    assert not fleet.rollout.stalled
    assert notifies(fleet.step(4500.0)) == []
    assert notifies(fleet.step(4501.0))[0].state == "firing"


def test_a_persons_pause_past_the_deadline_still_stalls() -> None:
    fleet = Fleet(["a", "b"], policy(progress_deadline=900))
    why = "paused by alice: waiting for eval results"
    assert fleet.step(0.0, a=OK) == [Apply("b")]
    fleet.pause(100.0, "alice", "waiting for eval results")

    assert fleet.step(200.0) == []  # no applies while paused
    assert fleet.conditions == progressing("Paused", why)
    assert fleet.step(901.0) == [
        Notify(
            "stalled",
            "firing",
            (("b", "lagging at v46"),),
            f"no progress for 15m01s at wave 1/1 (all), {why}",
        )
    ]
    assert fleet.conditions == {
        "Ready": (False, "Paused", why),
        "Stalled": stalled(f"no progress for over 15m00s at wave 1/1 (all), {why}"),
    }

    fleet.resume(1000.0)  # a person acting is progress
    assert fleet.rollout.last_progress_at == 1000.0
    assert fleet.step(1000.0) == [UNSTALLED, Apply("b")]
    assert fleet.conditions == progressing("Progressing", "1/2 targets; wave 1/1 (all)")
    assert notifies(fleet.step(1900.0)) == []
    assert notifies(fleet.step(1901.0))[0].state == "firing"


def test_a_paused_rollout_neither_moves_a_wave_nor_completes() -> None:
    fleet = Fleet(["a"], policy(wave("all", "*", bake=600)))
    fleet.step(0.0, a=OK)
    fleet.pause(100.0, "alice", "hold for the launch")

    assert fleet.step(700.0) == []
    assert (fleet.rollout.phase, fleet.rollout.wave) == (Phase.PAUSED, 0)
    assert fleet.conditions == progressing("Paused", "paused by alice: hold for the launch")

    fleet.resume(800.0)
    assert fleet.step(800.0) == []
    assert fleet.rollout.phase is Phase.COMPLETE


# --- rollback, abort, self-heal ------------------------------------------------------------------


def test_on_stall_rollback_reverts_exactly_the_converged_targets() -> None:
    fleet = Fleet(
        ["canary", "eu1", "eu2"],
        policy(wave("canary", "canary"), wave("europe", "eu*"), on_stall="rollback"),
        before={"canary": "c46", "eu1": "c45", "eu2": "c46"},
    )
    assert fleet.step(0.0, canary=OK) == [Apply("eu1"), Apply("eu2")]
    assert fleet.step(100.0, eu1=OK) == [Apply("eu2")]

    why = "no progress for 15m01s at wave 2/2 (europe)"
    # Each converged target goes back to what it ran before; nothing more is applied.
    assert fleet.step(1001.0) == [
        Notify("stalled", "firing", (("eu2", "lagging at v46"),), why),
        Revert((("canary", "c46"), ("eu1", "c45"))),
    ]
    # Not RolledBack until the driver says every write was done.
    assert fleet.rollout.phase is Phase.PROGRESSING
    assert fleet.conditions["Stalled"] == stalled(STALL_MESSAGE)

    assert fleet.reverted(1002.0) == [
        Notify("stalled", "resolved", (), f"it was rolled back after: {STALL_MESSAGE}")
    ]
    assert fleet.rollout.phase is Phase.ABORTED
    assert fleet.conditions == {
        "Ready": (False, "RolledBack", f"rolled back after: {STALL_MESSAGE}"),
    }
    for now in (1010.0, 2000.0, 5000.0):
        assert fleet.step(now, canary=LAGGING, eu1=LAGGING) == [], f"t={now}"


STALL_MESSAGE = "no progress for over 15m00s at wave 2/2 (europe)"


def test_a_failed_rollback_write_stays_stalled_and_is_tried_again() -> None:
    fleet = Fleet(["a", "b"], policy(on_stall="rollback"), before={"a": "c46", "b": "c46"})
    fleet.step(0.0, a=OK)
    assert Revert((("a", "c46"),)) in fleet.step(901.0)
    failed = fleet.reverted(902.0, a="apply failed: HTTP 503")
    message = "rollback failed on a: apply failed: HTTP 503; retried every step"
    why = (("a", "apply failed: HTTP 503"),)
    assert failed == [Notify("rollback_failed", "firing", why, message)]
    assert fleet.rollout.stalled and fleet.rollout.phase is Phase.PROGRESSING
    assert fleet.conditions["Ready"] == (False, "RollbackFailed", message)
    # The next step tries again; the same failure is not alerted twice.
    assert fleet.step(905.0) == [Revert((("a", "c46"),))]
    assert fleet.reverted(906.0, a="apply failed: HTTP 503") == []


def test_rollback_impossible_when_what_a_target_ran_before_is_unknown() -> None:
    # The first rollout a store records: eu had drifted, so what it ran before is unknown.
    fleet = Fleet(["us", "eu", "ap"], policy(on_stall="rollback"), before={"us": "c46", "eu": None})
    fleet.step(0.0, us=OK, eu=OK)
    actions = fleet.step(901.0)
    message = (
        "cannot roll back eu: what it ran before the rollout started is not known; "
        "nothing was written"
    )
    assert not any(isinstance(a, Revert) for a in actions), "never a partial, silent rollback"
    assert (
        Notify(
            "rollback_impossible",
            "firing",
            (("eu", "what it ran before the rollout started is not known"),),
            message,
        )
        in actions
    )
    # Never RolledBack without having written: it stays Stalled, and says why.
    assert fleet.rollout.phase is Phase.PROGRESSING
    assert fleet.conditions["Ready"] == (False, "RollbackImpossible", message)
    assert "Stalled" in fleet.conditions
    later = fleet.step(950.0)
    assert not any(isinstance(a, Notify) and a.condition == "rollback_impossible" for a in later)


def test_nothing_to_roll_back_when_the_rollout_moved_no_target() -> None:
    fleet = Fleet(["a", "b"], policy(on_stall="rollback"), before={"a": "c47", "b": "c46"})
    fleet.step(0.0, a=OK)  # a already ran the desired revision before the rollout started
    actions = fleet.step(901.0)
    assert not any(isinstance(a, Revert) for a in actions)
    assert fleet.conditions["Ready"][1] == "RollbackImpossible"
    assert "moved no target" in fleet.conditions["Ready"][2]


# --- advisory health checks ----------------------------------------------------------------------

ADVISORY_SICK = Observation(True, health=False, advisory=True)
ADVISORY_OK = Observation(True, health=True, advisory=True)


def test_an_advisory_health_check_never_pauses_but_warns_once_and_resolves() -> None:
    fleet = Fleet(["pop", "us"], policy(wave("pops", "pop"), wave("rest", "*"), failures=2))
    # Converged is enough to pass an advisory-checked wave: the next wave starts at once.
    assert fleet.step(0.0, pop=ADVISORY_SICK) == [Apply("us")]
    actions = fleet.step(3.0)  # the second failure in a row: unhealthy after hysteresis
    why = "advisory health check failing (2 checks in a row)"
    warning = Notify(
        "health",
        "firing",
        (("pop", why),),
        f"pop: {why}; the rollout goes on (gate: advisory)",
        "warning",
    )
    assert actions == [warning], "warned, and the rollout goes on (us is in its apply backoff)"
    assert fleet.rollout.phase is Phase.PROGRESSING, "an advisory check never pauses"
    assert fleet.step(4.0) == [], "warned once, not every step"
    resolved = Notify("health", "resolved", (("pop", ""),), "pop: health check ok", "warning")
    assert fleet.step(30.0, pop=ADVISORY_OK, us=OK) == [resolved]
    assert fleet.rollout.phase is Phase.COMPLETE


def test_the_same_failing_check_as_blocking_pauses_the_wave() -> None:
    fleet = Fleet(["pop", "us"], policy(wave("pops", "pop"), wave("rest", "*"), failures=2))
    fleet.step(0.0, pop=SICK)
    actions = fleet.step(10.0)
    assert fleet.rollout.phase is Phase.PAUSED
    assert notifies(actions)[0].condition == "paused"
    assert Apply("us") not in actions


def test_abort_stops_every_apply_and_alert() -> None:
    fleet = Fleet(["a", "b"], policy(progress_deadline=900))
    fleet.step(0.0, a=OK)
    fleet.step(901.0)
    assert fleet.rollout.stalled

    # The stall was alerted: whoever was paged hears that somebody acted.
    resolved = Notify("stalled", "resolved", (), "the rollout was aborted by bob")
    assert fleet.abort(950.0, "bob") == [resolved]
    assert fleet.abort(955.0, "bob") == []  # aborting again says nothing new
    aborted = {"Ready": (False, "Aborted", "aborted by bob")}
    assert fleet.conditions == aborted
    for now in (960.0, 2000.0, 5000.0):
        assert fleet.step(now) == [], f"t={now}"
    fleet.pause(6000.0, "alice", "too late")
    assert (fleet.rollout.phase, fleet.rollout.pause) == (Phase.ABORTED, None)
    assert fleet.step(6001.0) == []
    assert fleet.conditions == aborted
    assert fleet.since == {"Ready": 950.0}

    fleet.resume(7000.0)  # a person restarts it: that is progress
    assert fleet.step(7000.0) == [Apply("b")]
    assert fleet.conditions == progressing("Progressing", "1/2 targets; wave 1/1 (all)")


@pytest.mark.parametrize(("self_heal", "actions"), [(True, [Apply("b")]), (False, [])])
def test_self_heal_reapplies_a_drifted_target_once_complete(
    self_heal: bool, actions: list[Apply]
) -> None:
    fleet = Fleet(["a", "b"], policy(self_heal=self_heal, progress_deadline=900))
    assert fleet.step(0.0, a=OK, b=OK) == []
    assert fleet.rollout.phase is Phase.COMPLETE

    assert fleet.step(5000.0, b=Observation(False, "edited by hand")) == actions
    assert fleet.rollout.phase is Phase.COMPLETE
    assert notifies(fleet.step(9000.0)) == []  # a complete rollout never stalls


# --- persistence and transition times -------------------------------------------------------------


def test_a_rollout_round_trips_through_json_at_every_step() -> None:
    fleet = Fleet(["canary", "eu1", "eu2", "us1"], THREE_WAVES)
    for now, changes, *_ in FULL_ROLLOUT:
        fleet.step(now, **changes)  # Fleet.step checks the round trip and the resumed step
        data = fleet.rollout.to_json()
        assert json.loads(json.dumps(data)) == data
        assert Rollout.from_json(data) == fleet.rollout

    stalled = Fleet(["a"], policy(progress_deadline=900))
    stalled.step(0.0)
    stalled.pause(10.0, "alice", "why not")
    stalled.step(1000.0)
    assert persisted(stalled.rollout) == stalled.rollout
    assert persisted(stalled.rollout).phase is Phase.PAUSED


def test_aborting_a_rollout_the_health_gate_paused_resolves_that_alert() -> None:
    fleet = Fleet(["canary", "eu1"], policy(*HELD_CANARY, failures=1, progress_deadline=DAY))
    fleet.step(0.0, canary=Observation(True, health=False))
    assert fleet.rollout.phase is Phase.PAUSED
    assert fleet.abort(30.0, "bob") == [
        Notify("paused", "resolved", (), "the rollout was aborted by bob")
    ]


def test_aborting_a_quiet_rollout_sends_nothing() -> None:
    fleet = Fleet(["a", "b"], policy(progress_deadline=900))
    fleet.step(0.0, a=OK)
    assert fleet.abort(10.0, "bob") == []


def test_pause_resume_and_abort_leave_their_input_alone() -> None:
    rollout = begin(["a"], policy())
    before = rollout.to_json()
    steering.resume(steering.pause(rollout, "alice", "why", 1.0), 2.0)
    steering.abort(rollout, "bob", 3.0)
    assert rollout.to_json() == before


# (now, what changes in the fleet, since of each condition afterwards)
TRANSITIONS: list[tuple[float, dict[str, Observation], dict[str, float]]] = [
    (0.0, {}, {"Ready": 0.0, "Reconciling": 0.0}),
    (3.0, {}, {"Ready": 0.0, "Reconciling": 0.0}),  # nothing changed
    (10.0, {"a": OK}, {"Ready": 10.0, "Reconciling": 10.0}),  # the message changed
    (500.0, {}, {"Ready": 10.0, "Reconciling": 10.0}),
    (911.0, {}, {"Ready": 10.0, "Stalled": 911.0}),
    (1500.0, {}, {"Ready": 10.0, "Stalled": 911.0}),
    (1811.0, {}, {"Ready": 10.0, "Stalled": 911.0}),  # a reminder alert is not a transition
    (1900.0, {"b": OK}, {"Ready": 1900.0}),
    (2500.0, {}, {"Ready": 1900.0}),
]


def test_a_condition_moves_its_time_only_when_it_changes() -> None:
    fleet = Fleet(["a", "b"], policy(progress_deadline=900))
    for now, changes, since in TRANSITIONS:
        fleet.step(now, **changes)
        assert fleet.since == since, f"t={now}"


def test_a_baking_condition_keeps_its_time_while_the_bake_runs() -> None:
    fleet = Fleet(["a", "b"], policy(wave("a", "a", bake=600)))
    fleet.step(0.0, a=OK)
    for now in (100.0, 200.0, 599.0):
        fleet.step(now)
        assert fleet.since == {"Ready": 0.0, "Reconciling": 0.0}, f"t={now}"

    fleet.pause(700.0, "alice", "why")
    fleet.step(700.0)
    assert fleet.since == {"Ready": 700.0, "Reconciling": 700.0}  # the reason changed


# --- a doomed target reads apart from a slow one --------------------------------------------------


@pytest.mark.parametrize(
    ("failure", "reason", "kind"),
    [
        ("transient", "TargetUnavailable", "retried with backoff"),
        ("permanent", "TargetRejected", "needs a person"),
    ],
)
def test_a_failing_target_gives_its_kind_of_reason(failure: str, reason: str, kind: str) -> None:
    fleet = Fleet(["a", "b"], policy())
    why = "unreachable: unauthorized (HTTP 401)" if failure == "permanent" else "timed out"
    fleet.step(0.0, a=OK, b=Observation(False, why, failure=failure))
    assert fleet.conditions["Ready"] == (False, reason, f"1/2 targets; wave 1/1 (all): b ({kind})")
    assert fleet.conditions["Reconciling"][1] == reason
