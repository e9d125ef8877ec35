"""GitHub deployments (design §15): one Deployment per (environment, desired revision), and a
deployment status per alert and per step of its life — ``in_progress`` when its rollout starts
and while it moves, ``failure`` when it stalls, ``success`` when complete, ``inactive`` when a
newer revision supersedes it or it is rolled back from (quarantined)."""

from __future__ import annotations

from typing import Any

from ..model.codes import AlertCondition, Moment
from .alert import Alert, headline

#: GitHub cuts a status description longer than this.
DESCRIPTION = 140
#: Conditions whose firing means the deployment failed.
FAILURES = frozenset(
    {AlertCondition.STALLED, AlertCondition.ROLLBACK_FAILED, AlertCondition.ROLLBACK_IMPOSSIBLE}
)
#: The moments of a deployment's life that are not alerts (GitHub alone is told them).
LIFECYCLE: dict[str, str] = {
    Moment.DEPLOYING: "in_progress",
    Moment.COMPLETE: "success",
    Moment.SUPERSEDED: "inactive",
    Moment.ROLLED_BACK: "inactive",
}


def deployment(alert: Alert) -> dict[str, Any]:
    """The body of ``POST /repos/{owner}/{repo}/deployments`` for ``alert``'s revision."""
    assert alert.revision is not None
    return {
        "ref": alert.revision,
        "task": "deploy",
        "auto_merge": False,
        "required_contexts": [],  # the reconciler deploys what git holds; no status checks
        "environment": alert.environment,
        "description": f"agent-reconciler rollout of {alert.revision[:12]}",
        "production_environment": alert.environment == "production",
        "transient_environment": False,
        "payload": {"reconciler": "agent-reconciler"},
    }


def state(alert: Alert) -> str:
    """The deployment status ``alert`` means."""
    if alert.condition in LIFECYCLE:
        return LIFECYCLE[alert.condition]
    if alert.condition == AlertCondition.QUARANTINED and alert.state == "firing":
        return "inactive"  # rolled back from: this revision is not what runs any more
    if alert.state == "firing" and alert.condition in FAILURES:
        return "failure"
    return "in_progress"


def status(alert: Alert, public_url: str | None = None) -> dict[str, Any]:
    """The body of ``POST .../deployments/{id}/statuses`` for ``alert``."""
    body: dict[str, Any] = {
        "state": state(alert),
        "description": f"{alert.bundle}: {headline(alert)}"[:DESCRIPTION],
        "environment": alert.environment,
        "auto_inactive": False,  # each environment's older deployments are ours to end
    }
    if public_url:
        body["log_url"] = public_url
    return body
