"""The trail as a person reads it, as JSON, and as CDEvents (design §15): each recorded command
becomes CloudEvents 1.0 JSON whose ``data`` is a CDEvent — ``dev.cdevents.service.deployed``
for a converge that completed, ``dev.cdevents.service.rolledback`` for a rollback,
``dev.cdevents.testsuiterun.finished`` for an eval record, and a custom
``dev.cdeventsx.reconciler-<subject>.<predicate>`` event for the rest. Pure: records in, JSON out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

#: The CDEvents specification the events follow (the schemas under tests/schemas/cdevents).
CDEVENTS_VERSION = "0.5.1"
DEPLOYED = "dev.cdevents.service.deployed.0.3.0"
ROLLED_BACK = "dev.cdevents.service.rolledback.0.3.0"
EVAL_FINISHED = "dev.cdevents.testsuiterun.finished.0.3.0"
#: Custom CDEvents (``dev.cdeventsx.<tool>-<subject>.<predicate>.<version>``) for the rest.
CUSTOM = {
    "converge": "dev.cdeventsx.reconciler-rollout.converged.0.1.0",
    "rollback": "dev.cdeventsx.reconciler-rollout.rolledback.0.1.0",
    "rollout pause": "dev.cdeventsx.reconciler-rollout.paused.0.1.0",
    "rollout resume": "dev.cdeventsx.reconciler-rollout.resumed.0.1.0",
    "rollout abort": "dev.cdeventsx.reconciler-rollout.aborted.0.1.0",
    "eval record": "dev.cdeventsx.reconciler-eval.recorded.0.1.0",
    "state reset": "dev.cdeventsx.reconciler-state.reset.0.1.0",
}


def _iso(at: float) -> str:
    return dt.datetime.fromtimestamp(at, dt.UTC).isoformat().replace("+00:00", "Z")


def trail_text(events: Sequence[Mapping[str, Any]]) -> list[str]:
    """One line per command: when, who, what, bundles, outcome, and why."""
    lines = []
    for event in events:
        d = event["data"]
        bundles = f" {','.join(d.get('bundles') or [])}" if d.get("bundles") else ""
        why = f" — {d['reason']}" if d.get("reason") else ""
        lines.append(
            f"{_iso(event['at'])}  {d.get('by')}  {d.get('command')}{bundles}: "
            f"{d.get('outcome')}{why}"
        )
    return lines


def trail_json(
    environment: str, since: float, events: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """``events --format json``: the records as written, with ISO times."""
    return {
        "schema": "agent-reconciler.events/v1",
        "environment": environment,
        "since": _iso(since),
        "events": [{"id": e["id"], "at": _iso(e["at"]), **e["data"]} for e in events],
    }


def cloudevents(environment: str, events: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``events --format cdevents``: one CloudEvent per command and bundle, oldest first."""
    source = f"/agent-reconciler/{quote(environment)}"
    out: list[dict[str, Any]] = []
    for event in events:
        d = event["data"]
        for number, (kind, subject) in enumerate(_subjects(environment, source, d), start=1):
            ident = f"{environment}-{event['id']}-{number}"
            cdevent = {
                "context": {
                    "specversion": CDEVENTS_VERSION,
                    "id": ident,
                    "source": source,
                    "type": kind,
                    "timestamp": _iso(event["at"]),
                },
                "subject": subject,
                "customData": {
                    k: d.get(k) for k in ("by", "command", "outcome", "reason", "revision", "to")
                },
                "customDataContentType": "application/json",
            }
            out.append(
                {
                    "specversion": "1.0",
                    "id": ident,
                    "source": source,
                    "type": kind,
                    "time": _iso(event["at"]),
                    "datacontenttype": "application/json",
                    "data": cdevent,
                }
            )
    return out


def _subjects(
    environment: str, source: str, d: Mapping[str, Any]
) -> list[tuple[str, dict[str, Any]]]:
    """(type, subject) of each CDEvent one command makes."""
    command = str(d.get("command"))
    place = {"id": environment, "source": source}
    digests: Mapping[str, str] = d.get("digests") or {}
    bundles = list(d.get("bundles") or []) or ["*"]
    if command in ("converge", "rollback") and d.get("outcome") == "succeeded":
        kind = DEPLOYED if command == "converge" else ROLLED_BACK
        return [
            (
                kind,
                {
                    "id": f"{environment}/{bundle}",
                    "source": source,
                    "content": {"environment": place, "artifactId": _artifact(bundle, digests)},
                },
            )
            for bundle in bundles
        ]
    if command == "eval record":
        passed = d.get("result") == "passed"
        content = {
            "environment": place,
            "outcome": "success" if passed else "failure",
            "testSuite": {"id": str(d.get("digest") or "eval"), "name": "eval"},
        }
        return [
            (EVAL_FINISHED, {"id": f"{environment}/eval", "source": source, "content": content})
        ]
    kind = CUSTOM.get(command, "dev.cdeventsx.reconciler-command.recorded.0.1.0")
    facts: dict[str, Any] = {
        "environment": environment,
        "outcome": d.get("outcome"),
        "digests": dict(digests),
    }
    return [
        (kind, {"id": f"{environment}/{b}", "source": source, "content": facts}) for b in bundles
    ]


def _artifact(bundle: str, digests: Mapping[str, str]) -> str:
    """A package URL for one bundle's rendered content (``pkg:generic/<bundle>@<digest>``)."""
    digest = digests.get(bundle)
    return f"pkg:generic/{quote(bundle)}" + (f"@{quote(digest, safe='')}" if digest else "")
