"""One alert (design §8): a condition of one bundle's rollout, firing or resolved, with the line a
person reads and the machine fields; every payload is scrubbed of known secrets (a reason may
quote what a target reflected back)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from ..model.codes import AlertCondition, Level
from ..revisions import revision_label
from ..secrets import scrub, scrub_data

AlertState = Literal["firing", "resolved"]

#: How each known condition reads in the ``text`` line; others read as their name.
PHRASES: dict[str, str] = {
    AlertCondition.STALLED: "rollout stalled",
    AlertCondition.PAUSED: "rollout paused",
    AlertCondition.QUARANTINED: "desired digest quarantined",
    AlertCondition.DRIFTED: "target changed out of band",
    AlertCondition.HEALTH: "advisory health check failing",  #: a warning; it never pauses a wave
    AlertCondition.ROLLBACK_IMPOSSIBLE: "rollback impossible",
    AlertCondition.ROLLBACK_FAILED: "rollback failed",
}
#: At most this many blocking targets are spelled out in ``text``; ``targets`` holds them all.
TEXT_TARGETS = 10

_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


@dataclass(frozen=True)
class Alert:
    """One condition of one bundle's rollout in one environment, firing or resolved."""

    environment: str
    bundle: str
    #: An :class:`AlertCondition`, or a deployment's :class:`~reconciler.model.codes.Moment`.
    condition: str
    state: AlertState
    revision: str | None  #: the revision the condition was computed for
    targets: tuple[tuple[str, str], ...]  #: (target name, reason) of the blocking targets
    message: str = ""
    level: Level = Level.ERROR  #: warning: e.g. an advisory health check
    scope: str | None = None  #: the one target a ``converge --target`` run concerns

    def text(self) -> str:
        """The line a person reads in the chat channel (Slack mrkdwn, escaped)."""
        phrase = PHRASES.get(self.condition, self.condition.replace("_", " "))
        at = f" at {_short(self.revision)}" if self.revision else ""
        scope = f" (converge --target {self.scope})" if self.scope else ""
        head = f"{self.environment} / {self.bundle}: {phrase}{at}{scope}"
        if self.state == "resolved":
            return _escape(f":white_check_mark: {head} — resolved")
        emoji = ":warning:" if self.level == Level.WARNING else ":rotating_light:"
        parts = [f"{name}: {reason}" if reason else name for name, reason in self.targets]
        if len(parts) > TEXT_TARGETS:
            parts[TEXT_TARGETS:] = [f"and {len(parts) - TEXT_TARGETS} more"]
        text = f"{emoji} {head}"
        if parts:
            text += " — " + "; ".join(parts)
        if self.message:
            text += f"\n{self.message}"
        return _escape(scrub(text))  # scrubbed before escaping, which could hide a secret

    def payload(self) -> dict[str, Any]:
        """The JSON body: Slack's ``text`` plus the machine fields, known secrets masked."""
        body = {
            "text": self.text(),
            "environment": self.environment,
            "bundle": self.bundle,
            "condition": self.condition,
            "state": self.state,
            "level": str(self.level),
            "revision": self.revision,
            **({"scope": self.scope} if self.scope else {}),
            "targets": [{"name": name, "reason": reason} for name, reason in self.targets],
            "message": self.message,
        }
        scrubbed: dict[str, Any] = scrub_data(body)  # a reason may quote what a target reflected
        return scrubbed


def _short(revision: str) -> str:
    return revision_label(revision) if _SHA.fullmatch(revision) else revision


def _escape(text: str) -> str:
    # Slack reads <...> as links and mentions; a reason quoted from a target must not be one.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def dedup_key(alert: Alert) -> str:
    """The key one incident is known by: ``<environment>/<bundle>/<condition>`` (design §15)."""
    return f"{alert.environment}/{alert.bundle}/{alert.condition}"


def headline(alert: Alert) -> str:
    """The text's first line without its emoji (a PagerDuty summary, a status description)."""
    first = alert.text().split("\n", 1)[0]
    return first.split(" ", 1)[1] if first.startswith(":") else first
