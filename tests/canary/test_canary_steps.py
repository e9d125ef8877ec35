"""A rollout's canary step by step (reconciler.rollout.canary_steps, pure), its conditions, and
how ``rollout status`` and the page read it (design §12.1)."""

from __future__ import annotations

from typing import Any

from reconciler.canary.judge import Cell, Verdict
from reconciler.model.canary import CanarySpec
from reconciler.model.canary_progress import CanaryState
from reconciler.model.inventory import RolloutPolicy
from reconciler.model.rollout import ConditionType, Phase, Reason, Rollout
from reconciler.report.rollout import status_text
from reconciler.rollout import canary_steps, engine, steering
from reconciler.rollout.canary_steps import Need

OLD, NEW = "sha256:" + "a" * 64, "sha256:" + "b" * 64
SPEC: dict[str, Any] = {
    "release_flag": {"target": "flags"},
    "steps": ["1%", "5%", "25%"],
    "bake": "30m",
    "judge": {
        "by": "segment",
        "interval": "1m",
        "metrics": [
            {
                "name": "refusal-rate",
                "test": "proportion",
                "numerator": "sum by (digest, segment) (r)",
                "denominator": "sum by (digest, segment) (q)",
            },
            {
                "name": "latency",
                "test": "mann-whitney",
                "query": "max by (digest, segment) (l)",
                "critical": False,
            },
        ],
    },
}
SPEC_MODEL = CanarySpec.model_validate(SPEC, strict=False)
POLICY = RolloutPolicy.model_validate({"progress_deadline": "15m", "canary": SPEC}, strict=False)


def rollout(stable: str | None = OLD) -> Rollout:
    r = engine.start(
        environment="production",
        bundle="support-agent",
        from_revision="a" * 40,
        to_revision="b" * 40,
        digest=NEW,
        targets=["eu", "us"],
        policy=POLICY,
        now=0.0,
        content=NEW,
    )
    r.canary = canary_steps.begin(SPEC_MODEL, NEW, (stable, "a" * 40) if stable else None)
    return r


def cell(metric: str, segment: str, status: str, critical: bool = True) -> Cell:
    return Cell(metric, segment, status, 0.5, 0.2, 500, 5000, 1.5, 1e-9, 0.005, critical)  # type: ignore[arg-type]


def test_a_first_rollout_is_plain_and_one_already_serving_is_passed() -> None:
    plain = rollout(stable=None).canary
    assert plain is not None and plain.state is CanaryState.PLAIN and not plain.holding
    same = canary_steps.begin(SPEC_MODEL, NEW, (NEW, "b" * 40))
    assert same.state is CanaryState.PASSED and same.step == 3


def test_stage_then_one_write_a_step_then_one_look_after_the_bake() -> None:
    r = rollout()
    assert canary_steps.need(r, SPEC_MODEL, 0.0) is Need.STAGE
    # No group switches while the canary steps: the engine applies nothing.
    _, actions = engine.advance(r, POLICY, {}, 1.0)
    assert actions == []
    r = canary_steps.staged(r, "", 1.0)
    assert canary_steps.need(r, SPEC_MODEL, 1.0) is Need.WRITE
    assert canary_steps.step_weight(r.canary) == 10  # type: ignore[arg-type]
    r = canary_steps.written(r, 10, 2.0)
    assert canary_steps.need(r, SPEC_MODEL, 2.0 + 1799) is Need.NOTHING
    assert canary_steps.need(r, SPEC_MODEL, 2.0 + 1800) is Need.LOOK
    # The bake is no stall: the deadline counts from its end.
    assert r.deadline(900.0) == 2.0 + 1800 + 900
    cells = (cell("refusal-rate", "es", "pass"), cell("latency", "es", "pass", False))
    r, notices = canary_steps.looked(r, Verdict("pass", cells, 0.0167), 0.012, 1802.0)
    assert notices == [] and r.canary is not None
    assert (r.canary.step, r.canary.state, r.canary.written_at) == (1, CanaryState.BAKING, None)
    assert r.canary.served is None  # 1.2% was step 1's share: step 2 has not been measured
    assert canary_steps.need(r, SPEC_MODEL, 1803.0) is Need.WRITE


def test_thin_samples_wait_naming_them_and_never_pass() -> None:
    r = canary_steps.written(canary_steps.staged(rollout(), "", 0.0), 10, 0.0)
    thin = (cell("refusal-rate", "de", "insufficient"), cell("refusal-rate", "es", "pass"))
    r, _ = canary_steps.looked(r, Verdict("wait", thin, 0.0167), None, 1800.0)
    assert r.canary is not None and r.canary.state is CanaryState.WAITING and r.canary.step == 0
    assert r.canary.message == "too few samples in refusal-rate [de]"
    assert canary_steps.need(r, SPEC_MODEL, 1801.0) is Need.LOOK


def test_a_critical_failure_pauses_canary_failed_and_asks_for_weight_0() -> None:
    r = canary_steps.written(canary_steps.staged(rollout(), "", 0.0), 50, 0.0)
    failed = (cell("refusal-rate", "es", "fail"), cell("refusal-rate", "en", "pass"))
    r, notices = canary_steps.looked(r, Verdict("abort", failed, 0.0167), 0.05, 1800.0)
    assert r.phase is Phase.PAUSED and r.canary is not None
    assert r.canary.state is CanaryState.FAILED
    condition = r.conditions[ConditionType.CANARY_FAILED]
    assert condition.reason == Reason.CANARY_FAILED
    assert (
        "refusal-rate [es]: fail: canary 0.5 vs stable 0.2 (+150.0%), p=1e-09" in condition.message
    )
    assert [n.targets[0][0] for n in notices] == ["refusal-rate [es]"]
    assert canary_steps.need(r, SPEC_MODEL, 1800.0) is Need.ZERO
    r = canary_steps.written(r, 0, 1800.0)
    assert canary_steps.need(r, SPEC_MODEL, 1800.0) is Need.NOTHING
    # A person resumes: it starts over from the first step.
    again = steering.resume(r, 2000.0)
    assert again.canary is not None and (again.canary.step, again.canary.state) == (
        0,
        CanaryState.STAGING,
    )
    assert ConditionType.CANARY_FAILED not in again.conditions


def test_a_non_critical_failure_holds_canary_marginal_until_a_person_resumes() -> None:
    r = canary_steps.written(canary_steps.staged(rollout(), "", 0.0), 10, 0.0)
    marginal = (cell("latency", "es", "fail", False), cell("refusal-rate", "es", "pass"))
    r, notices = canary_steps.looked(r, Verdict("hold", marginal, 0.0167), 0.01, 1800.0)
    assert r.canary is not None and r.canary.state is CanaryState.MARGINAL
    assert ConditionType.CANARY_MARGINAL in r.conditions and notices[0].level == "warning"
    assert canary_steps.need(r, SPEC_MODEL, 5000.0) is Need.NOTHING  # held at its weight
    after, _ = engine.advance(r, POLICY, {}, 1801.0)
    assert after.phase is Phase.PAUSED  # a health recovery never lifts it
    resumed = steering.resume(r, 2000.0)
    assert resumed.canary is not None and resumed.canary.step == 1
    assert resumed.phase is Phase.PROGRESSING


def test_rollout_status_shows_the_step_the_served_share_and_the_judge_table() -> None:
    r = canary_steps.written(canary_steps.staged(rollout(), "", 0.0), 50, 0.0)
    failed = (cell("refusal-rate", "es", "fail"), cell("refusal-rate", "en", "pass"))
    r, _ = canary_steps.looked(r, Verdict("abort", failed, 0.0167), 0.036, 1800.0)
    text = status_text(r, POLICY, 1800.0, {})
    assert "canary: canary step 1/3 (1% of users, 3.6% of requests served) failed" in text
    assert "refusal-rate [es] fail: canary 0.5 (n=500) vs stable 0.2 (n=5000) (+150.0%)" in text
    assert "CanaryFailed=true CanaryFailed" in text


def test_a_completed_plain_rollout_settles_and_json_round_trips() -> None:
    r = rollout(stable=None)
    r.phase = Phase.COMPLETE
    assert canary_steps.need(r, SPEC_MODEL, 0.0) is Need.SETTLE
    done = canary_steps.settled(r)
    assert done.canary is not None and done.canary.state is CanaryState.SETTLED
    assert done.canary.stable == NEW
    assert Rollout.from_json(done.to_json()) == done
