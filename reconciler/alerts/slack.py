"""Slack's incoming webhooks (design §15): ``text`` (the notification and fallback line) plus Block
Kit blocks — the condition, environment, bundle, blocking targets, and a button to the page."""

from __future__ import annotations

from typing import Any

from .alert import TEXT_TARGETS, Alert, _escape, _short

#: Block Kit limits: a section's text, a field's text, a button's label.
SECTION_TEXT, FIELD_TEXT, BUTTON_TEXT = 3000, 2000, 75


def message(alert: Alert, public_url: str | None = None) -> dict[str, Any]:
    """The incoming-webhook body for ``alert`` (every string scrubbed and escaped)."""
    text = alert.text()
    machine = alert.payload()
    fields = [
        ("Condition", f"{alert.condition} ({alert.state})"),
        ("Environment", alert.environment),
        ("Bundle", alert.bundle),
    ]
    if alert.revision:
        fields.append(("Revision", _short(alert.revision)))
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": text[:SECTION_TEXT]}},
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": f"*{name}*\n{_escape(value)}"[:FIELD_TEXT]}
                for name, value in fields
            ],
        },
    ]
    targets = machine["targets"][:TEXT_TARGETS]
    if targets and alert.state == "firing":
        lines = [f"• {_escape(t['name'])}: {_escape(t['reason'] or '-')}" for t in targets]
        more = len(machine["targets"]) - len(targets)
        if more:
            lines.append(f"… and {more} more")
        listing = "*Blocking targets*\n" + "\n".join(lines)
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": listing[:SECTION_TEXT]}}
        )
    if public_url:
        label = {"type": "plain_text", "text": "Open the on-call page"[:BUTTON_TEXT]}
        button = {"type": "button", "text": label, "url": public_url}
        blocks.append({"type": "actions", "elements": [button]})
    return {"text": text, "blocks": blocks}
