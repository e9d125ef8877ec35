"""Webhook alerts: the text a person reads, delivery to a real local webhook, and no leaked URLs."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.alerts import Alert, deliver
from reconciler.model.inventory import AlertSpec
from tests.servers.process import free_port
from tests.servers.webhook import Webhook, running_webhook, self_signed

SHA = "abc1234" + "0" * 33
STALLED = Alert(
    environment="production",
    bundle="support-agent",
    condition="stalled",
    state="firing",
    revision=SHA,
    targets=(("ap-south-1", "health failing 3/3"), ("ap-northeast-1", "not converged")),
    message="no target converged for 15m",
)


def hook(url: str) -> AlertSpec:
    return AlertSpec(type="webhook", url=url)


def test_text_names_environment_bundle_condition_and_blocking_targets() -> None:
    text = STALLED.payload()["text"]
    assert text.startswith(":rotating_light: production / support-agent: rollout stalled")
    assert "at abc1234" in text
    assert "ap-south-1: health failing 3/3; ap-northeast-1: not converged" in text
    assert "no target converged for 15m" in text


def test_payload_carries_the_machine_fields() -> None:
    payload = STALLED.payload()
    assert {k: v for k, v in payload.items() if k != "text"} == {
        "environment": "production",
        "bundle": "support-agent",
        "condition": "stalled",
        "state": "firing",
        "level": "error",
        "revision": SHA,
        "targets": [
            {"name": "ap-south-1", "reason": "health failing 3/3"},
            {"name": "ap-northeast-1", "reason": "not converged"},
        ],
        "message": "no target converged for 15m",
    }


def test_resolved_reads_as_resolved() -> None:
    resolved = Alert("production", "support-agent", "stalled", "resolved", SHA, ())
    text = resolved.payload()["text"]
    assert text.startswith(":white_check_mark: production / support-agent: rollout stalled")
    assert text.endswith("resolved")


def test_text_escapes_slack_markup_and_bounds_the_target_list() -> None:
    many = tuple((f"pop-{i:03}", "<!channel> & co") for i in range(25))
    alert = Alert("production", "support-agent", "health_failing", "firing", None, many)
    text = alert.payload()["text"]
    assert "health failing" in text
    assert "<!channel>" not in text and "&lt;!channel&gt; &amp; co" in text
    assert "pop-009" in text and "pop-010" not in text and "and 15 more" in text
    assert len(alert.payload()["targets"]) == 25  # the machine field keeps them all


def test_deliver_posts_json_to_every_webhook(webhook: Webhook) -> None:
    errors = deliver(STALLED, [hook(webhook.url), hook(webhook.url + "?second")], {})
    assert errors == []
    bodies = webhook.wait_for(2)
    assert bodies == [STALLED.payload(), STALLED.payload()]
    assert {r.content_type for r in webhook.received} == {"application/json"}


def test_deliver_retries_a_server_error(webhook: Webhook) -> None:
    webhook.fail_next(1, status=500)
    assert deliver(STALLED, [hook(webhook.url)], {}) == []
    assert [r.status for r in webhook.received] == [500, 200]
    assert webhook.wait_for(1) == [STALLED.payload()]


def test_deliver_gives_up_after_bounded_retries(webhook: Webhook) -> None:
    webhook.fail_next(10, status=503)
    assert deliver(STALLED, [hook(webhook.url)], {}) == ["webhook 1: HTTP 503"]
    assert len(webhook.received) == 3  # the first attempt and two retries


def test_one_failing_webhook_does_not_stop_the_others(webhook: Webhook) -> None:
    specs = [hook("http://127.0.0.1:1/hook"), hook(webhook.url)]
    assert deliver(STALLED, specs, {}) == ["webhook 1: connection refused"]
    assert webhook.wait_for(1) == [STALLED.payload()]


@pytest.fixture
def closed_port() -> int:
    return free_port()


def test_unreachable_webhook_error_names_no_url(
    closed_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    url = f"http://127.0.0.1:{closed_port}/services/T000/B000/unreachable"
    errors = deliver(STALLED, [hook(url)], {})
    assert errors == ["webhook 1: connection refused"]
    # No retry or error log line may quote the URL.
    assert "T000" not in caplog.text and str(closed_port) not in caplog.text


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections (into the backlog) and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield int(listener.getsockname()[1])


def test_a_silent_webhook_times_out(silent_port: int) -> None:
    errors = deliver(STALLED, [hook(f"http://127.0.0.1:{silent_port}/")], {}, timeout=0.2)
    assert errors == ["webhook 1: timed out after 0.2s"]


def test_secret_in_the_url_never_appears_in_errors_or_logs(
    webhook: Webhook, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "xoxb-SECRET-4f1d9c"
    env = {"SLACK_WEBHOOK": f"{webhook.url}?token={secret}"}
    webhook.fail_next(10, status=500)
    caplog.set_level(logging.DEBUG)
    errors = deliver(STALLED, [hook("${SLACK_WEBHOOK}")], env)
    assert errors == ["webhook 1: HTTP 500"]
    assert webhook.received[0].path.endswith(secret)  # it did go where the variable said
    logged = caplog.text
    assert secret not in logged and webhook.url not in logged
    assert str(webhook.port) not in " ".join(errors)


def test_tls_is_verified(tmp_path: Path) -> None:
    with running_webhook(tls=self_signed(tmp_path)) as untrusted:
        errors = deliver(STALLED, [hook(untrusted.url)], {})
        assert errors == ["webhook 1: TLS certificate verification failed"]
        assert untrusted.received == []


def test_https_to_a_plain_http_server_is_a_tls_error(webhook: Webhook) -> None:
    url = webhook.url.replace("http://", "https://")
    assert deliver(STALLED, [hook(url)], {}) == ["webhook 1: TLS handshake failed"]


@pytest.mark.parametrize(
    "url", ["http://[::1/x", "https:///x", "http://127.0.0.1:99999/", "http://" + "a" * 70 + ".io/"]
)
def test_malformed_urls_are_errors_not_exceptions(url: str) -> None:
    assert deliver(STALLED, [hook("${HOOK}")], {"HOOK": url}) == [
        "webhook 1: invalid request URL or header"
    ]


def test_unset_variable_is_an_error_naming_the_variable() -> None:
    errors = deliver(STALLED, [hook("${SLACK_WEBHOOK}")], {})
    assert errors == ["webhook 1: environment variable SLACK_WEBHOOK is not set"]


def test_a_url_that_is_not_http_is_refused_without_quoting_it() -> None:
    errors = deliver(STALLED, [hook("${HOOK}")], {"HOOK": "ftp://secret@example.invalid/x"})
    assert errors == ["webhook 1: URL must start with http:// or https://"]


def test_no_webhooks_sends_nothing() -> None:
    assert deliver(STALLED, [], {}) == []
