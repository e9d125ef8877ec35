"""The engine and the verdict under a legitimate wait (design §14): a closed window or a
promotion holds the rollout without stalling it; the deadline restarts when the wait ends; a
wait past ``max_wait`` is Stalled, with an alert. Pure: a fake clock, no I/O."""

from __future__ import annotations

from reconciler.audit.verdict import rollout_stall
from reconciler.model.rollout import Apply, Notify, Reason, Wait, overdue
from reconciler.rollout import engine
from tests.rollout.support import LAGGING, OK, begin, persisted, policy, wave

DAY = 86400.0
DEADLINE = 900.0


def _window(opens: float, max_wait: float | None = None) -> Wait:
    return Wait(Reason.WAITING_FOR_WINDOW, "holiday freeze; opens …", opens, max_wait)


def test_a_closed_window_never_stalls_and_the_deadline_restarts_when_it_opens() -> None:
    rules = policy(wave("all", "a"), progress_deadline=DEADLINE)
    r = begin(["a"], rules)
    opens = 10 * DAY
    for now in (0.0, 60.0, DAY, 9 * DAY):
        r, actions = engine.advance(r, rules, {"a": LAGGING}, now, wait=_window(opens))
        assert not any(isinstance(a, Apply) for a in actions)
        assert not r.stalled and not overdue(r, DEADLINE, now)
        assert r.conditions["Ready"].reason == "WaitingForWindow"
        assert r.conditions["Ready"].since == 0.0  # the words do not tick
    # Nobody steps it (a converge exited): as of any moment before it opens, not stalled.
    assert not overdue(persisted(r), DEADLINE, opens - 1)
    assert not rollout_stall(r, rules, opens - 1)[0]
    # Opened, and nobody stepped it since: stalled once the deadline passed after opening.
    assert not overdue(r, DEADLINE, opens + DEADLINE)
    assert overdue(r, DEADLINE, opens + DEADLINE + 1)
    stalled, _, words = rollout_stall(r, rules, opens + DEADLINE + 1)
    assert stalled and "since its wait ended" in words
    # Stepped at the opening: it applies, and the deadline counts from then.
    r, actions = engine.advance(r, rules, {"a": LAGGING}, opens)
    assert [a for a in actions if isinstance(a, Apply)] == [Apply("a")]
    assert r.held is None and r.deadline(DEADLINE) == opens + DEADLINE
    r, _ = engine.advance(r, rules, {"a": LAGGING}, opens + DEADLINE + 1)
    assert r.stalled and r.conditions["Stalled"].reason == "ProgressDeadlineExceeded"


def test_held_longer_than_max_wait_is_stalled_with_an_alert() -> None:
    rules = policy(wave("all", "a"), progress_deadline=DEADLINE)
    r = begin(["a"], rules)
    wait = _window(30 * DAY, max_wait=3 * DAY)
    r, actions = engine.advance(r, rules, {"a": LAGGING}, 0.0, wait=wait)
    r, actions = engine.advance(r, rules, {"a": LAGGING}, 3 * DAY, wait=wait)
    assert not r.stalled and not actions
    r, actions = engine.advance(r, rules, {"a": LAGGING}, 3 * DAY + 1, wait=wait)
    assert r.stalled
    stall = r.conditions["Stalled"]
    assert (stall.reason, stall.message) == (
        "WaitingForWindow",
        "held past windows.max_wait (3d): holiday freeze; opens …",
    )
    alerts = [a for a in actions if isinstance(a, Notify)]
    assert [(a.condition, a.state) for a in alerts] == [("stalled", "firing")]
    assert not any(isinstance(a, Apply) for a in actions)
    # Every consumer agrees, as of now, from the record alone.
    assert rollout_stall(persisted(r), rules, 3 * DAY + 2)[0]
    # Once open it is not stalled any more (and says so).
    r, actions = engine.advance(r, rules, {"a": OK}, 30 * DAY)
    assert not r.stalled
    assert ("stalled", "resolved") in [
        (a.condition, a.state) for a in actions if isinstance(a, Notify)
    ]


def test_a_promotion_wait_holds_only_before_the_first_wave_starts() -> None:
    rules = policy(wave("all", "a", "b"), progress_deadline=DEADLINE)
    r = begin(["a", "b"], rules)
    soak = Wait(Reason.AWAITING_PROMOTION, "staging completed …; soak 2h ends …", 7200.0)
    r, actions = engine.advance(r, rules, {"a": LAGGING, "b": LAGGING}, 0.0, wait=soak)
    assert not actions and not r.promoted
    assert r.conditions["Ready"].reason == "AwaitingPromotion"
    assert not overdue(r, DEADLINE, 7199.0)
    r, actions = engine.advance(r, rules, {"a": LAGGING, "b": LAGGING}, 7200.0)
    assert r.promoted and {a.target for a in actions if isinstance(a, Apply)} == {"a", "b"}


def test_a_wait_on_a_stalled_upstream_is_stalled_with_its_reason() -> None:
    rules = policy(wave("all", "a"), progress_deadline=DEADLINE)
    r = begin(["a"], rules)
    why = "staging has not completed 1a2b: it is stalled (no progress for over 15m00s)"
    wait = Wait(Reason.AWAITING_PROMOTION, why, stalled=why)
    r, actions = engine.advance(r, rules, {"a": LAGGING}, 0.0, wait=wait)
    assert r.stalled and r.conditions["Stalled"].message == why
    assert [a.condition for a in actions if isinstance(a, Notify)] == ["stalled"]
