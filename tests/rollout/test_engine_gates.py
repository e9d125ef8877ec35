"""The engine's bake gates and required evals (issue 13), step by step on a fake clock: what a
metric analysis or an output contract answered (``GateReading``) holds, lets go, or pauses a
wave with AnalysisFailed; ``require_eval`` keeps every wave from starting (AwaitingEval)."""

from __future__ import annotations

from reconciler.model.rollout import (
    GATE_PAUSE,
    Apply,
    GateReading,
    Notify,
    Observation,
    Phase,
    Revert,
)
from reconciler.rollout.conditions import RECONCILER

from .support import LAGGING, OK, Fleet, policy, wave

GATE = "analysis/parse-errors"
PASS = GateReading(GATE, "pass", "`q` = 0.01 (max 0.02)")
FAIL = GateReading(GATE, "fail", "`q` = 0.05, above max 0.02")
WAIT = GateReading(GATE, "wait", "`q`: no data (on_missing: wait)")
BROKEN = GateReading(
    "output_contract", "fail", "output_schema/report: 40% of 200 outputs miss required property"
)
FAILED = f"{GATE} failed on canary: {FAIL.message}"
AWAITING = "awaiting a passing eval (rollout.require_eval): no eval of sha256:47"


def gated(*readings: GateReading) -> Observation:
    """Converged, healthy, and what its bake gates answered this step."""
    return Observation(True, health=True, gates=readings)


def held(hold: float) -> GateReading:
    return GateReading(GATE, "pass", PASS.message, hold)


def canary_then_europe(bake: float = 600.0) -> Fleet:
    return Fleet(["canary", "eu1"], policy(wave("canary", "canary", bake=bake), wave("eu", "eu*")))


def progressing(reason: str, message: str) -> dict[str, tuple[bool, str, str]]:
    return {"Ready": (False, reason, message), "Reconciling": (True, reason, message)}


def test_a_failing_gate_pauses_the_wave_with_analysis_failed_until_a_person_resumes() -> None:
    fleet = canary_then_europe()
    assert fleet.step(0.0, canary=gated(PASS)) == []
    assert fleet.conditions == progressing("Baking", "1/2 targets; wave canary baking for 10m00s")

    assert fleet.step(10.0, canary=gated(FAIL)) == [
        Notify("paused", "firing", (("canary", FAIL.message),), FAILED)
    ]
    pause = fleet.rollout.pause
    assert fleet.rollout.phase is Phase.PAUSED and pause is not None
    assert (pause.by, pause.cause, pause.reason) == (RECONCILER, GATE_PAUSE, FAILED)
    assert fleet.conditions == progressing("AnalysisFailed", f"paused by reconciler: {FAILED}")

    # The metric recovering lifts nothing: a gate that said no waits for a person.
    for now in (20.0, 300.0, 800.0):
        assert fleet.step(now, canary=gated(PASS)) == [], f"t={now}"
        assert fleet.rollout.phase is Phase.PAUSED
    assert fleet.rollout.blocking() == (("canary", f"{GATE} failed: {FAIL.message}"),)

    fleet.resume(850.0)
    assert fleet.step(850.0) == []  # the bake starts over: the wave was not judged baked
    assert fleet.step(1449.0) == []
    assert fleet.step(1450.0) == [Apply("eu1")]


def test_an_output_contract_fails_its_wave_like_a_metric() -> None:
    fleet = canary_then_europe()
    fleet.step(0.0, canary=gated(PASS, BROKEN))
    message = f"output_contract failed on canary: {BROKEN.message}"
    assert fleet.rollout.pause is not None and fleet.rollout.pause.reason == message
    assert fleet.conditions["Ready"] == (
        False,
        "AnalysisFailed",
        f"paused by reconciler: {message}",
    )
    assert fleet.step(601.0) == []  # no other wave receives anything


def test_a_gate_must_hold_for_its_for_within_the_bake_and_a_wait_restarts_it() -> None:
    fleet = canary_then_europe(bake=60.0)
    assert fleet.step(0.0, canary=gated(held(300.0))) == []
    gates = "gates: canary: analysis/parse-errors must hold for 5m00s"
    assert fleet.conditions == progressing(
        "Baking", f"1/2 targets; wave canary baking for 1m00s; {gates}"
    )
    assert fleet.step(100.0) == []  # the bake is over, the gate has not held 5 minutes yet
    assert fleet.step(150.0, canary=gated(WAIT)) == []  # no data: the hold starts again
    assert fleet.step(200.0, canary=gated(held(300.0))) == []
    assert fleet.step(499.0) == []
    assert fleet.step(500.0) == [Apply("eu1")]


def test_a_gate_nobody_asked_this_step_holds_the_wave() -> None:
    fleet = canary_then_europe(bake=60.0)
    unasked = Observation(True, health=True, gates=None)
    assert fleet.step(0.0, canary=unasked) == []
    assert fleet.step(900.0) == []  # baked long ago, but its gates said nothing
    assert fleet.rollout.blocking() == (("canary", "bake gates not asked yet"),)
    assert fleet.step(910.0, canary=gated(PASS)) == [Apply("eu1")]


def test_a_gate_waiting_for_data_stalls_past_the_deadline_naming_it() -> None:
    fleet = canary_then_europe(bake=60.0)
    fleet.step(0.0, canary=gated(WAIT))
    why = f"{GATE}: {WAIT.message}"
    assert fleet.rollout.blocking() == (("canary", why),)
    actions = fleet.step(961.0)  # 15m after the bake ended
    stall = [a for a in actions if isinstance(a, Notify)]
    assert [(a.condition, a.state, a.targets) for a in stall] == [
        ("stalled", "firing", (("canary", why),))
    ]
    assert fleet.rollout.stalled and fleet.rollout.phase is Phase.PROGRESSING


def test_on_fail_rollback_puts_back_the_failing_wave_only_and_ends_rolled_back() -> None:
    fleet = Fleet(
        ["canary", "eu1", "eu2"],
        policy(wave("canary", "canary"), wave("europe", "eu*", bake=600)),
        before={"canary": "c46", "eu1": "c45", "eu2": "c46"},
    )
    assert fleet.step(0.0, canary=gated(PASS)) == [Apply("eu1"), Apply("eu2")]
    rollback = GateReading(GATE, "fail", FAIL.message, on_fail="rollback")
    failed = f"{GATE} failed on eu1: {FAIL.message}"
    actions = fleet.step(10.0, eu1=gated(rollback), eu2=gated(PASS))
    assert actions == [
        Notify("paused", "firing", (("eu1", FAIL.message),), failed),
        Revert((("eu1", "c45"), ("eu2", "c46")), "on_fail: rollback"),  # not the canary
    ]
    # A write that failed is tried again at the next step, alerted once.
    assert fleet.reverted(11.0, eu2="apply failed: HTTP 503") != []
    assert fleet.step(20.0) == [Revert((("eu1", "c45"), ("eu2", "c46")), "on_fail: rollback")]
    assert fleet.reverted(21.0, eu2="apply failed: HTTP 503") == []

    assert fleet.reverted(30.0) == [
        Notify("paused", "resolved", (), f"it was rolled back after: {failed}")
    ]
    assert fleet.rollout.phase is Phase.ABORTED
    assert fleet.conditions == {"Ready": (False, "RolledBack", f"rolled back after: {failed}")}


def test_health_recovering_does_not_lift_an_analysis_pause() -> None:
    fleet = canary_then_europe()
    fleet.step(0.0, canary=gated(FAIL))
    sick = Observation(True, health=False, gates=(PASS,))
    fleet.step(10.0, canary=sick)
    fleet.step(20.0, canary=sick)
    assert fleet.step(30.0, canary=gated(PASS)) == []  # health ok again: still paused
    assert fleet.conditions["Ready"][1] == "AnalysisFailed"


def test_awaiting_an_eval_starts_no_wave_and_stalls_like_any_other_wait() -> None:
    fleet = canary_then_europe()
    fleet.awaiting_eval = AWAITING
    assert fleet.step(0.0) == []  # nothing applied, not even the canary
    assert fleet.conditions == progressing("AwaitingEval", f"0/2 targets; {AWAITING}")
    assert fleet.step(600.0) == []

    actions = fleet.step(901.0)
    assert [(a.condition, a.state) for a in actions if isinstance(a, Notify)] == [
        ("stalled", "firing")
    ]
    stalled = fleet.conditions["Stalled"]
    assert stalled[1] == "ProgressDeadlineExceeded" and AWAITING in stalled[2]

    fleet.awaiting_eval = ""  # a passing eval of the digest was recorded
    assert fleet.step(950.0) == [Apply("canary")]
    resolved = fleet.step(960.0, canary=OK)
    assert Notify("stalled", "resolved", (), "the rollout is progressing again") in resolved


def test_an_eval_taken_back_mid_rollout_holds_the_next_wave() -> None:
    fleet = canary_then_europe(bake=0.0)
    assert fleet.step(0.0) == [Apply("canary")]
    fleet.awaiting_eval = AWAITING  # a failed re-run of the eval
    assert fleet.step(10.0, canary=OK) == []  # the canary is done; europe does not start
    assert fleet.step(20.0) == []
    fleet.awaiting_eval = ""
    assert fleet.step(30.0) == [Apply("eu1")]


def test_a_fleet_that_holds_the_digest_already_completes_without_an_eval() -> None:
    fleet = canary_then_europe(bake=0.0)
    fleet.awaiting_eval = AWAITING
    assert fleet.step(0.0, canary=OK, eu1=OK) == []
    assert fleet.rollout.phase is Phase.COMPLETE  # no wave needed to start
    assert fleet.conditions == {"Ready": (True, "RolloutSucceeded", "2/2 targets converged")}


def test_a_complete_rollout_does_not_wait_for_an_eval() -> None:
    fleet = Fleet(["a"], policy())
    fleet.step(0.0, a=OK)
    assert fleet.rollout.phase is Phase.COMPLETE
    fleet.awaiting_eval = AWAITING
    assert fleet.step(10.0, a=OK) == []
    assert fleet.rollout.phase is Phase.COMPLETE and fleet.rollout.awaiting_eval == ""
    assert fleet.conditions == {"Ready": (True, "RolloutSucceeded", "1/1 targets converged")}
    assert fleet.step(20.0, a=LAGGING) == []  # no self_heal here: nothing to apply either
