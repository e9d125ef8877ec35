"""The markdown audit, for a CI job summary or a pull-request comment."""

from __future__ import annotations

from collections.abc import Mapping

from ..audit.devices import short_label
from ..audit.results import Audit
from ..diff.adoption import summary
from .labels import age, primary, revision_label, verdict_mark, worst_change
from .text import headline

_ICON = {
    "in_sync": "✅",
    "lagging": "⏳",
    "not_loaded": "🔄",
    "missing": "❔",
    "drifted": "⚠️",
    "invalid": "❌",
    "unreachable": "🔌",
}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(audit: Audit, tags: Mapping[str, str], failures: list[str]) -> str:
    verdict = f"**FAIL**: {', '.join(failures)}" if failures else "**OK**: nothing fails the policy"
    lines = [
        f"## agent-reconciler {'plan' if audit.schema.endswith('plan/v1') else 'audit'}: "
        f"{audit.environment}",
        "",
        headline(audit, tags),
        "",
        verdict,
        "",
        "| target | kind | status | revision | behind | skew age | worst change |",
        "| --- | --- | --- | --- | ---: | --- | --- |",
    ]
    for target in audit.targets:
        top = primary(target)
        status = f"{_ICON.get(str(target.status), '')} {target.status}"
        if top.stalled or top.held:
            status += f" ({verdict_mark(top).strip()})"
        change = worst_change(target.bundles) or (target.error or "")
        lines.append(
            f"| {target.name} | {target.spec.kind} | {status} | "
            f"{revision_label(top.observed_revision, tags)} | "
            f"{top.behind if top.behind is not None else '-'} | {age(top.lag_seconds)} | "
            f"{_cell(change)} |"
        )
    fleets = [
        f"- {_cell(summary(t.name, tier, shares, lambda r: short_label(r, tags)))}"
        for t in audit.targets
        for b in t.bundles
        for tier, shares in (b.distribution or {}).items()
    ]
    if fleets:  # a devices target runs a distribution per tier, not one revision (design §13)
        lines += ["", "### Device fleets", "", *fleets]
    if audit.findings:
        lines += ["", "### Findings", ""]
        lines += [f"- **{f.level}** `{f.code}`: {_cell(f.message)}" for f in audit.findings]
    return "\n".join(lines) + "\n"
