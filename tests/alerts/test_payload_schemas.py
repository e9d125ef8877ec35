"""Every payload an alert type sends validates against its published schema (tests/schemas):
PagerDuty Events API v2, Slack's incoming webhook with Block Kit, GitHub's deployments and
deployment statuses. The matrix covers every condition, both states, both levels, a page link
or none, markup and long target lists; the receivers' tests validate what actually arrived."""

from __future__ import annotations

import pytest

from reconciler.alerts import Alert, dedup_key, github, pagerduty, slack
from reconciler.model.alerting import CONDITIONS
from tests.alerts.schemas import check

SHA = "0123456789abcdef0123456789abcdef01234567"
PAGE = "https://reconciler.example.com/"
MANY = tuple((f"pop-{i:03}", "<!channel> & health failing " + "x" * 300) for i in range(40))


def _alerts() -> list[Alert]:
    made = []
    for condition in sorted(CONDITIONS):
        for state in ("firing", "resolved"):
            for targets in ((), (("ap-south-1", "not converged"),), MANY):
                made.append(
                    Alert("production", "support-agent", condition, state, SHA, targets, "m" * 900)
                )
    made.append(Alert("staging", "support-agent", "health", "firing", None, (), "", "warning"))
    return made


ALERTS = _alerts()
IDS = [f"{a.condition}-{a.state}-{len(a.targets)}-{a.revision is not None}" for a in ALERTS]


@pytest.mark.parametrize("alert", ALERTS, ids=IDS)
@pytest.mark.parametrize("page", [None, PAGE])
def test_pagerduty_events_are_valid_v2_events(alert: Alert, page: str | None) -> None:
    body = pagerduty.event(alert, "R0UTINGKEY0000000000000000000000", page)
    check("pagerduty/events-v2", body)
    assert body["dedup_key"] == f"{alert.environment}/{alert.bundle}/{alert.condition}"
    assert body["event_action"] == ("trigger" if alert.state == "firing" else "resolve")
    if alert.state == "firing":
        assert len(body["payload"]["summary"]) <= pagerduty.SUMMARY
        assert ("links" in body) == (page is not None)


@pytest.mark.parametrize("alert", ALERTS, ids=IDS)
@pytest.mark.parametrize("page", [None, PAGE])
def test_slack_messages_are_valid_block_kit(alert: Alert, page: str | None) -> None:
    body = slack.message(alert, page)
    check("slack/incoming-webhook", body)
    assert body["text"] == alert.text()
    buttons = [b for b in body["blocks"] if b["type"] == "actions"]
    assert [e["url"] for b in buttons for e in b["elements"]] == ([page] if page else [])
    assert "<!channel>" not in str(body)  # a reason quoted from a target mentions no one


@pytest.mark.parametrize("alert", [a for a in ALERTS if a.revision], ids=str)
@pytest.mark.parametrize("page", [None, PAGE])
def test_github_bodies_are_valid_deployments_and_statuses(alert: Alert, page: str | None) -> None:
    check("github/create-deployment", github.deployment(alert))
    body = github.status(alert, page)
    check("github/create-deployment-status", body)
    assert len(body["description"]) <= github.DESCRIPTION


@pytest.mark.parametrize(
    ("condition", "state", "expected"),
    [
        ("stalled", "firing", "failure"),
        ("rollback_failed", "firing", "failure"),
        ("stalled", "resolved", "in_progress"),
        ("paused", "firing", "in_progress"),
        ("quarantined", "firing", "inactive"),  # rolled back from
        ("deploying", "firing", "in_progress"),
        ("complete", "firing", "success"),
        ("superseded", "firing", "inactive"),
        ("rolled_back", "firing", "inactive"),
    ],
)
def test_github_status_follows_the_condition(condition: str, state: str, expected: str) -> None:
    alert = Alert("production", "support-agent", condition, state, SHA, ())  # type: ignore[arg-type]
    body = github.status(alert, PAGE)
    check("github/create-deployment-status", body)
    assert body["state"] == expected


def test_the_dedup_key_names_environment_bundle_and_condition() -> None:
    alert = Alert("production", "support-agent", "stalled", "firing", SHA, ())
    assert dedup_key(alert) == "production/support-agent/stalled"


def test_the_schemas_refuse_what_the_services_refuse() -> None:
    """The checks have teeth: a payload each service would reject fails its schema."""
    bad = [
        ("pagerduty/events-v2", {"routing_key": "k", "event_action": "fire"}),
        ("pagerduty/events-v2", {"routing_key": "k", "event_action": "trigger", "payload": {}}),
        ("slack/incoming-webhook", {"text": "t", "blocks": [{"type": "section"}]}),
        (
            "slack/incoming-webhook",
            {
                "text": "t",
                "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}],
            },
        ),
        ("github/create-deployment", {"environment": "production"}),
        ("github/create-deployment-status", {"state": "done"}),
    ]
    for name, payload in bad:
        with pytest.raises(AssertionError):
            check(name, payload)
