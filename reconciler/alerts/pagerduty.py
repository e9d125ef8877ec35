"""PagerDuty's Events API v2 (design §15): ``trigger`` while a condition fires and ``resolve``
with the same ``dedup_key`` once it clears, so the incident it opened closes itself."""

from __future__ import annotations

from typing import Any

from ..model.codes import Level
from .alert import Alert, dedup_key, headline

#: PagerDuty cuts a summary longer than this.
SUMMARY = 1024


def event(alert: Alert, routing_key: str, public_url: str | None = None) -> dict[str, Any]:
    """The Events API v2 body for ``alert`` (the routing key is added after scrubbing)."""
    body: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": "trigger" if alert.state == "firing" else "resolve",
        "dedup_key": dedup_key(alert),
    }
    if alert.state == "firing":
        machine = alert.payload()  # scrubbed
        body["payload"] = {
            "summary": headline(alert)[:SUMMARY],
            "source": f"agent-reconciler/{alert.environment}",
            "severity": "warning" if alert.level == Level.WARNING else "error",
            "component": alert.bundle,
            "group": alert.environment,
            "class": alert.condition,
            "custom_details": {
                "revision": machine["revision"],
                "targets": machine["targets"],
                "message": machine["message"],
            },
        }
        body["client"] = "agent-reconciler"
        if public_url:
            body["client_url"] = public_url
            body["links"] = [{"href": public_url, "text": "on-call page"}]
    return body
