"""Delivery off the step's path: a receiver down for 30 s (on an injected clock) loses nothing that
was due within the retry bounds, in order, and never delays a step; past the bounds an alert is
counted in ``reconciler_alert_failures_total{type}``; routing holds queue by queue."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

from reconciler.alerts import Alert
from reconciler.alerts.outbox import Outbox, failures
from reconciler.alerts.send import QUEUED, routed
from reconciler.config.inventory import load_inventory
from reconciler.daemon.metrics import Families
from reconciler.model.alerting import AlertSpec
from reconciler.model.rollout import Notify
from reconciler.rollout.notify import Notifier
from reconciler.state import open_store
from tests.alerts.schemas import check
from tests.servers.webhook import Webhook, running_webhook
from tests.support.configrepo import ConfigRepo, inventory

SHA = "0123456789abcdef0123456789abcdef01234567"
KEY = "R0UTINGKEYR0UTINGKEYR0UTINGKEY12"


def _alert(condition: str, state: str, bundle: str = "support-agent") -> Alert:
    return Alert("production", bundle, condition, state, SHA, (("dead", "not converged"),))  # type: ignore[arg-type]


class VirtualTime:
    """A clock that moves only when the outbox sleeps; at ``up_at`` the receiver comes back."""

    def __init__(self, receiver: Webhook, up_at: float) -> None:
        self.now = 0.0
        self.slept: list[float] = []
        self.receiver = receiver
        self.up_at = up_at

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        if self.now >= self.up_at:
            self.receiver.up()
        await asyncio.sleep(0)


def _pagerduty(url: str) -> AlertSpec:
    return AlertSpec(type="pagerduty", routing_key="${KEY}", url=url)


def test_a_receiver_down_for_30s_loses_nothing_and_keeps_the_order(webhook: Webhook) -> None:
    webhook.down()
    time_ = VirtualTime(webhook, up_at=30.0)
    outbox = Outbox(QUEUED, sleep=time_.sleep, clock=time_.clock)
    try:
        sent = [
            _alert("stalled", "firing"),
            _alert("paused", "firing"),
            _alert("stalled", "resolved"),
        ]
        for alert in sent:
            assert outbox.submit(alert, [_pagerduty(webhook.url)], {"KEY": KEY}) == 1
        assert outbox.drain(timeout=10)
    finally:
        outbox.close()
    assert outbox.take_errors() == []
    bodies = webhook.alerts()
    assert [(b["dedup_key"], b["event_action"]) for b in bodies] == [
        ("production/support-agent/stalled", "trigger"),
        ("production/support-agent/paused", "trigger"),
        ("production/support-agent/stalled", "resolve"),
    ]
    for body in bodies:
        check("pagerduty/events-v2", body)
    assert time_.now >= 30.0  # the outage did last 30 s of (virtual) time
    assert max(time_.slept) <= QUEUED.max_backoff
    refused = [r for r in webhook.received if r.status == 503]
    assert 1 <= len(refused) <= QUEUED.attempts  # retried with backoff, not hammered


def test_past_the_bounds_an_alert_is_given_up_and_counted(webhook: Webhook) -> None:
    webhook.down()
    time_ = VirtualTime(webhook, up_at=float("inf"))  # down for good
    outbox = Outbox(QUEUED, sleep=time_.sleep, clock=time_.clock)
    before = failures().get("pagerduty", 0)
    try:
        outbox.submit(_alert("stalled", "firing"), [_pagerduty(webhook.url)], {"KEY": KEY})
        assert outbox.drain(timeout=10)
    finally:
        outbox.close()
    assert outbox.take_errors() == ["pagerduty 1: HTTP 503"]
    assert failures()["pagerduty"] == before + 1
    assert time_.now <= QUEUED.window  # bounded: no retry starts after the window
    assert len(webhook.received) <= QUEUED.attempts
    scraped = Families().render()[0].decode()
    assert f'reconciler_alert_failures_total{{type="pagerduty"}} {before + 1}.0' in scraped


def test_a_full_queue_drops_and_counts_instead_of_blocking(webhook: Webhook) -> None:
    webhook.down()
    release = asyncio.Event()

    async def held(_: float) -> None:
        await release.wait()  # the first alert's retry waits until the test lets it go

    outbox = Outbox(QUEUED, capacity=2, sleep=held, clock=lambda: 0.0)
    before = failures().get("webhook", 0)
    spec = AlertSpec(type="webhook", url=webhook.url)
    try:
        started = time.monotonic()
        for _ in range(6):
            outbox.submit(_alert("stalled", "firing"), [spec], {})
        assert time.monotonic() - started < 0.5
        webhook.up()
        loop = outbox._loop
        assert loop is not None
        loop.call_soon_threadsafe(release.set)
        assert outbox.drain(timeout=10)
    finally:
        outbox.close()
    dropped = [e for e in outbox.take_errors() if "queue full" in e]
    assert dropped and failures()["webhook"] == before + len(dropped)
    assert len(webhook.alerts()) == 6 - len(dropped)


def _timed(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def test_a_step_never_waits_for_a_receiver_that_is_down(tmp_path: Path, webhook: Webhook) -> None:
    """The notifier a rollout step sends through returns at once while the receiver is down;
    the alerts arrive once it is back."""
    repo = ConfigRepo(tmp_path / "config")
    repo.bundle()
    targets = [{"name": "a", "kind": "region", "source": {"type": "file", "path": "a.json"}}]
    alerts = [{"type": "pagerduty", "routing_key": "${KEY}", "url": "${PD_URL}"}]
    repo.write("targets/production.yaml", inventory(targets, alerts=alerts))
    repo.commit("v1")
    inv = load_inventory(repo.root, "production")
    webhook.down()
    gate = asyncio.Event()

    async def until_released(_: float) -> None:
        await gate.wait()

    outbox = Outbox(QUEUED, sleep=until_released, clock=lambda: 0.0)
    store = open_store(repo.root, None)
    notifier = Notifier("production", store, {"KEY": KEY, "PD_URL": webhook.url}, outbox=outbox)
    try:
        firing = Notify("stalled", "firing", (("a", "not converged"),), "no progress")
        resolved = Notify("stalled", "resolved", (), "progressing again")
        took = [
            _timed(lambda: notifier.send(inv, "support-agent", firing, 100.0, SHA)),
            _timed(lambda: notifier.send(inv, "support-agent", resolved, 130.0, SHA)),
        ]
        assert max(took) < 0.25, took  # a bounded-retry POST would take >= its backoff
        assert [a["state"] for a in store.alerts("production")] == ["firing", "resolved"]
        assert webhook.alerts() == []  # nothing got through yet: the step did not wait for it
        webhook.up()
        loop = outbox._loop
        assert loop is not None
        loop.call_soon_threadsafe(gate.set)
        assert outbox.drain(timeout=10)
    finally:
        outbox.close()
        store.close()
    assert [b["event_action"] for b in webhook.alerts()] == ["trigger", "resolve"]


def test_routing_by_bundle_and_condition_queue_by_queue() -> None:
    with running_webhook() as support, running_webhook() as billing, running_webhook() as paging:
        specs = [
            AlertSpec(type="webhook", url=support.url, bundles=["support-*"]),
            AlertSpec(type="webhook", url=billing.url, bundles=["billing-agent"]),
            AlertSpec(type="pagerduty", routing_key="${KEY}", url=paging.url, on=["stalled"]),
        ]
        outbox = Outbox()
        try:
            for alert in (
                _alert("stalled", "firing", "support-agent"),
                _alert("drifted", "firing", "billing-agent"),
                _alert("paused", "firing", "support-agent"),
                _alert("stalled", "firing", "billing-agent"),
            ):
                outbox.submit(alert, specs, {"KEY": KEY})
            assert outbox.drain(timeout=10)
        finally:
            outbox.close()
        assert [(b["bundle"], b["condition"]) for b in support.alerts()] == [
            ("support-agent", "stalled"),
            ("support-agent", "paused"),
        ]
        assert [(b["bundle"], b["condition"]) for b in billing.alerts()] == [
            ("billing-agent", "drifted"),
            ("billing-agent", "stalled"),
        ]
        assert [b["dedup_key"] for b in paging.alerts()] == [
            "production/support-agent/stalled",
            "production/billing-agent/stalled",
        ]


def test_a_torn_group_is_routed_by_name() -> None:
    """``on: [torn]`` pages a torn group and nothing else; a group that went back whole
    (``switch_reverted``) goes only where it is named or where ``on:`` is empty."""
    pager = AlertSpec(type="pagerduty", routing_key="${KEY}", on=["torn"])
    chat = AlertSpec(type="webhook", url="https://chat.example.com/hook", on=["switch_reverted"])
    everything = AlertSpec(type="webhook", url="https://audit.example.com/hook")
    specs = [pager, chat, everything]
    torn = _alert("torn", "firing", "support-agent")
    reverted = _alert("switch_reverted", "firing", "support-agent")
    stalled = _alert("stalled", "firing", "support-agent")
    assert [n for n, _ in routed(torn, specs)] == [1, 3]
    assert [n for n, _ in routed(reverted, specs)] == [2, 3]
    assert [n for n, _ in routed(stalled, specs)] == [3]


def test_at_exit_a_receiver_that_is_down_costs_seconds_not_minutes(webhook: Webhook) -> None:
    """``hurry`` (what a process does at exit) cuts the queued backoff short: the alert is given
    up after a command's own bounds, and said."""
    webhook.down()
    outbox = Outbox(QUEUED)  # real time, real sleeps: the first retry would wait 1 s, then 2 s...
    try:
        outbox.submit(_alert("stalled", "firing"), [_pagerduty(webhook.url)], {"KEY": KEY})
        webhook.wait_for_requests(1)
        started = time.monotonic()
        outbox.hurry()
        assert outbox.drain(timeout=10)
        assert time.monotonic() - started < 5
    finally:
        outbox.close()
    assert outbox.take_errors() == ["pagerduty 1: HTTP 503"]
    assert len(webhook.received) <= 3
