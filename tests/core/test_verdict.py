"""The verdict (design §6), as a table: quarantine over recorded rollout over git time, judged as
of now — one pure function every consumer asks."""

from __future__ import annotations

import pytest

from reconciler.audit.verdict import (
    Authority,
    Recorded,
    Seen,
    current_conditions,
    fleet_digest,
    judge,
    rollout_stall,
)
from reconciler.model.inventory import RolloutPolicy
from reconciler.model.rollout import ConditionType, Pause, Phase, Quarantine, Reason, Rollout
from reconciler.model.status import Status
from reconciler.rollout import engine

POLICY = RolloutPolicy.model_validate(
    {
        "waves": [
            {"name": "canary", "targets": ["canary"], "bake": "1h"},
            {"name": "rest", "targets": ["*"]},
        ],
        "progress_deadline": "15m",
    }
)
DIGEST = "sha256:desired"


def _seen(canary: Status = Status.IN_SYNC, eu: Status = Status.LAGGING, lag: int = 0) -> list[Seen]:
    return [
        Seen("canary", canary, lag if canary is Status.LAGGING else 0, 1, "sha256:c", "c why"),
        Seen("eu", eu, lag if eu is Status.LAGGING else None, 1, "sha256:e", "eu: lagging"),
    ]


def _rollout(seen: list[Seen], started: float = 0.0) -> Rollout:
    return engine.start(
        environment="production",
        bundle="agent",
        from_revision="v46",
        to_revision="v47",
        digest=fleet_digest(seen),
        targets=[s.target for s in seen],
        policy=POLICY,
        now=started,
        before={s.target: "v46" for s in seen},
    )


def _judge(seen: list[Seen], recorded: Recorded | None, now: float):
    return judge("agent", seen, POLICY, desired_digest=DIGEST, recorded=recorded, now=now)


def test_git_time_alone_without_state() -> None:
    # eu lags 2h: past 15m + the canary's 1h bake.
    done = _judge(_seen(lag=7200), None, now=10_000.0)
    assert done.verdict.authority is Authority.GIT
    assert done.verdict.stalled and done.stalled == {"eu"}
    assert [(code, target) for code, target, _ in done.findings] == [("stalled", "eu")]
    # 1h10m is within the deadline plus the canary's bake: lagging, not stalled.
    assert not _judge(_seen(lag=4200), None, now=10_000.0).verdict.stalled


def test_a_recorded_rollout_nobody_stepped_is_stalled_once_overdue() -> None:
    seen = _seen(lag=60)
    rollout = _rollout(seen, started=0.0)  # never stepped: no Stalled condition
    recorded = Recorded(rollouts={"agent": rollout})
    assert not _judge(seen, recorded, now=900.0).verdict.stalled  # exactly at the deadline
    done = _judge(seen, recorded, now=901.0)
    assert done.verdict.authority is Authority.ROLLOUT
    assert done.verdict.stalled
    # The canary converged since the record was written (nobody stepped it): nothing blocks
    # by name, and the finding is the bundle's.
    assert done.verdict.blocking == ()
    assert [(code, target) for code, target, _ in done.findings] == [("stalled", None)]
    assert "no progress for 15m01s at wave 1/2 (canary)" in done.verdict.message


def test_a_paused_rollout_past_its_deadline_is_stalled_as_of_now() -> None:
    seen = _seen()
    rollout = _rollout(seen)
    rollout.phase, rollout.pause = Phase.PAUSED, Pause("reconciler", "health failing", 10.0)
    stalled, _, message = rollout_stall(rollout, POLICY, now=2000.0)
    assert stalled and "paused by reconciler: health failing" in message
    assert _judge(seen, Recorded(rollouts={"agent": rollout}), now=2000.0).verdict.stalled


def test_a_baking_canary_is_not_stalled_however_old_the_commit() -> None:
    seen = _seen(lag=86_400)  # git time says a day behind
    rollout = _rollout(seen, started=0.0)
    rollout.wave_ready_at = 100.0  # the canary converged and bakes for 1h
    done = _judge(seen, Recorded(rollouts={"agent": rollout}), now=3000.0)
    assert done.verdict.authority is Authority.ROLLOUT
    assert not done.verdict.stalled and done.findings == ()


@pytest.mark.parametrize(
    "change",
    [
        pytest.param("aborted", id="an aborted rollout decides nothing: git time does"),
        pytest.param("other content", id="a rollout of other content decides nothing"),
    ],
)
def test_git_time_decides_when_the_record_does_not_apply(change: str) -> None:
    seen = _seen(lag=7200)
    rollout = _rollout(seen)
    if change == "aborted":
        rollout.phase = Phase.ABORTED
    else:
        rollout.digest = "sha256:older"
    done = _judge(seen, Recorded(rollouts={"agent": rollout}), now=100.0)
    assert done.verdict.authority is Authority.GIT and done.verdict.stalled


def test_a_quarantine_holds_instead_of_stalling() -> None:
    seen = _seen(canary=Status.LAGGING, eu=Status.LAGGING, lag=25_000)
    held = Quarantine("production", "agent", DIGEST, "a" * 40, 50.0, "alice", "b" * 40)
    rollout = _rollout(seen)
    done = _judge(seen, Recorded(rollouts={"agent": rollout}, quarantines=[held]), now=99_999.0)
    assert done.verdict.authority is Authority.QUARANTINE
    assert not done.verdict.stalled and done.stalled == frozenset()
    assert done.held == {"canary", "eu"}
    [(code, target, message)] = done.findings
    assert (code, target) == ("quarantined", None)
    assert "rolled back to bbbbbbb by alice at 1970-01-01T00:00:50Z" in message


def test_a_quarantine_of_other_content_changes_nothing() -> None:
    seen = _seen(lag=7200)
    other = Quarantine("production", "agent", "sha256:older", "a" * 40, 50.0, "alice")
    done = _judge(seen, Recorded(quarantines=[other]), now=100.0)
    assert done.verdict.authority is Authority.GIT and done.held == frozenset()


def test_blocking_targets_are_what_the_audit_sees_now() -> None:
    # The record says canary had not converged, but it has since: eu (unreachable) blocks.
    seen = _seen(canary=Status.IN_SYNC, eu=Status.UNREACHABLE)
    rollout = _rollout(seen)
    rollout.wave = 1
    done = _judge(seen, Recorded(rollouts={"agent": rollout}), now=5000.0)
    assert done.verdict.blocking == (("eu", "eu: lagging"),)
    assert done.stalled == {"eu"}


def _windows(max_wait: float | None = None) -> object:
    from types import SimpleNamespace

    monday = SimpleNamespace(rrule="FREQ=WEEKLY;BYDAY=MO", start="09:00", duration=8 * 3600.0)
    return SimpleNamespace(timezone="UTC", allow=[monday], deny=[], max_wait=max_wait)


MONDAY_9 = 1_796_634_000.0  # 2026-12-07 09:00 UTC, a Monday


@pytest.mark.parametrize(
    ("now", "lag", "max_wait", "stalled", "waiting"),
    [
        (MONDAY_9 - 3600, 9 * 3600, None, False, True),  # closed: held, however long the lag
        (MONDAY_9 - 3600, 9 * 3600, 2 * 3600.0, True, False),  # ... past max_wait + deadline
        (MONDAY_9 + 600, 9 * 3600, None, False, False),  # opened 10m ago: the clock restarted
        (MONDAY_9 + 3 * 3600, 9 * 3600, None, True, False),  # opened 3h ago: past 1h15m
    ],
)
def test_git_time_with_windows(
    now: float, lag: int, max_wait: float | None, stalled: bool, waiting: bool
) -> None:
    done = judge(
        "agent",
        _seen(lag=lag),
        POLICY,
        desired_digest=DIGEST,
        recorded=None,
        now=now,
        windows=_windows(max_wait),
    )
    assert done.verdict.authority is Authority.GIT
    assert done.verdict.stalled is stalled
    assert (done.verdict.waiting is not None) is waiting
    if waiting:
        assert done.verdict.waiting is not None
        assert done.verdict.waiting[0] == "WaitingForWindow"
        assert "opens Mon 2026-12-07 09:00 UTC" in done.verdict.waiting[1]


def test_git_time_adds_a_promotions_soak() -> None:
    # eu lags 2h: past 15m + 1h bake, but within them plus a 2h soak.
    kwargs = {"desired_digest": DIGEST, "recorded": None, "now": 10_000.0}
    assert judge("agent", _seen(lag=7200), POLICY, **kwargs).verdict.stalled  # type: ignore[arg-type]
    assert not judge("agent", _seen(lag=7200), POLICY, soak=7200.0, **kwargs).verdict.stalled  # type: ignore[arg-type]


def test_current_conditions_add_stalled_as_of_now_once_overdue() -> None:
    seen = _seen(lag=60)
    rollout = _rollout(seen, started=0.0)  # never stepped since: no Stalled recorded
    recorded = [c.condition.type for c in current_conditions(rollout, POLICY, now=900.0)]
    assert recorded == [str(t) for t in rollout.conditions]
    current = current_conditions(rollout, POLICY, now=901.0)
    *kept, last = current
    assert [c.condition for c in kept] == list(rollout.conditions.values())
    assert not any(c.as_of_now for c in kept)
    assert last.as_of_now
    assert (last.condition.type, last.condition.status, last.condition.reason) == (
        ConditionType.STALLED,
        True,
        Reason.DEADLINE,
    )
    assert last.condition.since == rollout.deadline(POLICY.progress_deadline)
    assert last.condition.message.endswith("(as of now: nothing has stepped the rollout since)")
