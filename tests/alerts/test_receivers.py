"""Alerts end to end: the real CLI stalls a rollout and ends the stall, and one local receiver per
type (127.0.0.1) records what arrives — PagerDuty, Slack, GitHub, and signed webhooks. Every
body that arrives is validated against its published schema (tests/schemas)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.alerts.schemas import check
from tests.servers.webhook import GitHubDeployments, Webhook, running_webhook
from tests.support.cli import Run, reconciler
from tests.support.configrepo import ConfigRepo, inventory

SECRET = "whsec-5d1b0c9e7a3f"
PD_KEY = "R0UTINGKEYR0UTINGKEYR0UTINGKEY12"
GH_TOKEN = "ghp_T0KENT0KENT0KENT0KENT0KENT0KEN12"
PAGE = "https://reconciler.example.com/production"


@pytest.fixture
def receivers() -> Iterator[dict[str, Webhook]]:
    """One receiver per type (and one webhook more, routed away), each on its own port."""
    with (
        running_webhook() as pagerduty,
        running_webhook() as slack,
        running_webhook() as github,
        running_webhook() as signed,
        running_webhook() as elsewhere,
    ):
        github.responder = GitHubDeployments()
        yield {
            "pagerduty": pagerduty,
            "slack": slack,
            "github": github,
            "signed": signed,
            "elsewhere": elsewhere,
        }


def _stalling_repo(root: Path) -> ConfigRepo:
    repo = ConfigRepo(root)
    repo.bundle()
    targets = [
        {"name": "canary", "kind": "region", "source": {"type": "file", "path": "fleet/c.json"}},
        # Nothing listens on port 9: the last wave can never converge.
        {
            "name": "dead",
            "kind": "region",
            "source": {"type": "http", "url": "http://127.0.0.1:9/"},
        },
    ]
    policy = {
        "waves": [{"name": "canary", "targets": ["canary"]}, {"name": "rest", "targets": ["*"]}],
        "progress_deadline": "30s",
    }
    alerts = [
        {"type": "pagerduty", "routing_key": "${PD_KEY}", "url": "${PD_URL}", "on": ["stalled"]},
        {"type": "slack", "url": "${SLACK_URL}", "bundles": ["support-*"]},
        {"type": "github", "repository": "acme/agents", "token": "${GH_TOKEN}",
         "api_url": "${GH_API}"},
        {"type": "webhook", "url": "${SIGNED_URL}", "secret": "${HOOK_SECRET}"},
        {"type": "webhook", "url": "${ELSEWHERE_URL}", "bundles": ["billing-*"]},
    ]  # fmt: skip
    repo.write("targets/production.yaml", inventory(targets, rollout=policy, alerts=alerts))
    repo.write(".gitignore", "fleet/\n")
    (repo.root / "fleet").mkdir()
    repo.commit("v1")
    return repo


def test_a_stall_opens_one_incident_and_its_end_resolves_it(
    tmp_path: Path, receivers: dict[str, Webhook]
) -> None:
    repo = _stalling_repo(tmp_path / "config")
    api = receivers["github"].url.removesuffix("/hooks/alerts")
    variables = {
        "PD_KEY": PD_KEY,
        "PD_URL": receivers["pagerduty"].url,
        "SLACK_URL": receivers["slack"].url,
        "GH_TOKEN": GH_TOKEN,
        "GH_API": api,
        "SIGNED_URL": receivers["signed"].url,
        "HOOK_SECRET": SECRET,
        "ELSEWHERE_URL": receivers["elsewhere"].url,
        "RECONCILER_PUBLIC_URL": PAGE,
    }

    def at(seconds: int, *args: str) -> Run:
        env = {"RECONCILER_NOW": str(1_800_000_000 + seconds), **variables}
        return reconciler("--repo", repo.root, *args, "--env", "production", env=env)

    assert at(0, "converge", "--timeout", "4s").code == 2  # out of time at the dead target
    stalled = at(100, "converge", "--timeout", "1s")  # past the deadline: stalled
    assert stalled.code == 2
    assert at(110, "converge", "--timeout", "1s").code == 2  # still stalled: no second incident
    aborted = at(120, "rollout", "abort", "--reason", "dead region, INC-42")
    assert aborted.code == 0, aborted.err

    # PagerDuty: exactly one trigger, and a resolve with the same dedup_key.
    events = [r.body for r in receivers["pagerduty"].received]
    assert [e["event_action"] for e in events] == ["trigger", "resolve"]
    assert {e["dedup_key"] for e in events} == {"production/support-agent/stalled"}
    assert {e["routing_key"] for e in events} == {PD_KEY}
    assert events[0]["links"] == [{"href": PAGE, "text": "on-call page"}]
    for event in events:
        check("pagerduty/events-v2", event)

    # Slack: the same two moments, text plus blocks, a button to the page.
    messages = [r.body for r in receivers["slack"].received]
    assert len(messages) == 2 and "rollout stalled" in messages[0]["text"]
    assert "dead" in str(messages[0]["blocks"])
    for message in messages:
        check("slack/incoming-webhook", message)
        assert message["blocks"][-1]["elements"][0]["url"] == PAGE

    # GitHub: one deployment of the revision: in progress, failure at the stall, in progress again.
    deployments: GitHubDeployments = receivers["github"].responder  # type: ignore[assignment]
    [deployment] = deployments.deployments
    assert deployment["environment"] == "production" and len(deployment["ref"]) == 40
    states = [s["state"] for _, s in deployments.statuses]
    assert states == ["in_progress", "failure", "in_progress"]
    for request in receivers["github"].received:
        assert request.headers is not None
        assert request.headers["Authorization"] == f"Bearer {GH_TOKEN}"
        if request.method == "POST" and request.path.endswith("/deployments"):
            check("github/create-deployment", request.body)
        elif request.method == "POST":
            check("github/create-deployment-status", request.body)

    # The signed webhook: every body carries a signature that checks out.
    signed = receivers["signed"].received
    assert [r.body["state"] for r in signed] == ["firing", "resolved"]
    for request in signed:
        assert request.headers is not None
        expected = "sha256=" + hmac.new(SECRET.encode(), request.raw, hashlib.sha256).hexdigest()
        assert request.headers["X-Reconciler-Signature-256"] == expected
        assert SECRET not in request.raw.decode()

    # Routing: the webhook for billing-* bundles heard nothing of support-agent.
    assert receivers["elsewhere"].received == []

    # No key, token or secret reached the output.
    for run in (stalled, aborted):
        for secret in (PD_KEY, GH_TOKEN, SECRET):
            assert secret not in run.out + run.err


def test_github_deployments_follow_a_revision_from_start_to_superseded(
    tmp_path: Path, receivers: dict[str, Webhook]
) -> None:
    """Success when complete; a newer revision supersedes it (inactive) and starts its own;
    a rollback makes the rolled-back-from revision inactive and the restored one a success.
    The deployment's life reaches GitHub whatever its ``on:`` (which routes alerts only)."""
    repo = ConfigRepo(tmp_path / "config")
    repo.bundle()
    targets = [
        {"name": n, "kind": "region", "source": {"type": "file", "path": f"fleet/{n}.json"}}
        for n in ("a", "b")
    ]
    alerts = [
        {"type": "github", "repository": "acme/agents", "token": "${GH_TOKEN}",
         "api_url": "${GH_API}", "on": ["stalled"]},
    ]  # fmt: skip
    repo.write("targets/production.yaml", inventory(targets, alerts=alerts))
    repo.write(".gitignore", "fleet/\n")
    (repo.root / "fleet").mkdir()
    repo.commit("v1")
    github = receivers["github"]
    env = {"GH_TOKEN": GH_TOKEN, "GH_API": github.url.removesuffix("/hooks/alerts")}

    def run(*args: str) -> Run:
        return reconciler("--repo", repo.root, *args, "--env", "production", env=env)

    assert run("converge").code == 0
    first = _head(repo)
    repo.bundle(prompt="v2\n")
    repo.commit("v2")
    assert run("converge").code == 0
    second = _head(repo)
    assert run("rollback", "--to", first, "--reason", "v2 regressed").code == 0

    deployments: GitHubDeployments = github.responder  # type: ignore[assignment]
    by_id = {d["id"]: d["ref"] for d in deployments.deployments}
    assert sorted(by_id.values()) == sorted([first, second])
    said = [(by_id[number], body["state"]) for number, body in deployments.statuses]
    assert said == [
        (first, "in_progress"),
        (first, "success"),
        (second, "in_progress"),
        (first, "inactive"),  # superseded by v2
        (second, "success"),
        (second, "inactive"),  # rolled back from
        (first, "success"),  # what runs again
    ]
    for request in github.received:
        if request.method == "POST" and request.path.endswith("/deployments"):
            check("github/create-deployment", request.body)
        elif request.method == "POST":
            check("github/create-deployment-status", request.body)


def _head(repo: ConfigRepo) -> str:
    import subprocess

    done = subprocess.run(
        ["git", "-C", str(repo.root), "rev-parse", "HEAD"], capture_output=True, text=True
    )
    return done.stdout.strip()
