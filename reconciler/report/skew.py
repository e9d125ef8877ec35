"""The on-call view: a rich table of what runs where, right now."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from ..audit.results import Audit
from ..model.codes import FindingCode, Level
from ..model.status import Status
from .fleetbar import tier_bars
from .labels import age, revision_label, verdict_mark, worst_change
from .text import headline

if TYPE_CHECKING:
    from rich.console import RenderableType

_STYLE = {
    Status.IN_SYNC: "green",
    Status.LAGGING: "yellow",
    Status.NOT_LOADED: "yellow",
    Status.MISSING: "magenta",
    Status.DRIFTED: "bold red",
    Status.INVALID: "bold red",
    Status.UNREACHABLE: "red",
}


def skew_view(
    audit: Audit, tags: Mapping[str, str], rollouts: list[str] | None = None
) -> RenderableType:
    """The rollout lines, a headline, the table, and the error findings."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    table = Table(title=None, show_lines=False, header_style="bold", expand=False)
    columns = ("target", "kind", "bundle", "status", "revision", "behind", "skew age")
    for column in (*columns, "worst change"):
        table.add_column(column, justify="right" if column == "behind" else "left", overflow="fold")
    for target in audit.targets:
        for result in target.bundles:  # targets x bundles: one row per bundle a target runs
            status = Text(str(result.status), style=_STYLE[result.status])
            if result.stalled or result.held:
                status.append(verdict_mark(result), style="bold red" if result.stalled else "bold")
            revision = revision_label(result.observed_revision, tags)
            if result.status in (Status.UNREACHABLE, Status.INVALID, Status.MISSING):
                revision = "?"
            elif result.status is Status.DRIFTED:
                revision = "out of band"
            table.add_row(
                target.name,
                target.spec.kind,
                result.bundle,
                status,
                revision,
                "-" if result.behind is None else str(result.behind),
                age(result.lag_seconds),
                worst_change([result]) or (result.error or ""),
            )
    loud = ("STALLED", "QUARANTINED")
    parts: list[RenderableType] = [
        Text(line, style="bold red" if any(w in line for w in loud) else "bold")
        for line in rollouts or []
    ]
    parts += [Text(headline(audit, tags), style="bold"), table]
    parts += fleet_lines(audit, tags)
    for finding in audit.findings:
        if finding.level == Level.ERROR and finding.code != FindingCode.BREAKING:
            where = f"{finding.target}: " if finding.target else ""
            parts.append(Text(f"{finding.code}: {where}{finding.message}", style="red"))
    return Group(*parts)


_TONE = {"ok": "green", "warn": "yellow", "bad": "red"}
#: Characters of one tier's bar.
BAR = 30


def fleet_lines(audit: Audit, tags: Mapping[str, str]) -> list[RenderableType]:
    """Each devices target's tiers as a bar of its distribution (design §13)."""
    from rich.text import Text

    lines: list[RenderableType] = []
    for target in audit.targets:
        for result in target.bundles:
            for bar in tier_bars(result, tags):
                line = Text(f"{target.name}/{bar.tier}".ljust(24))
                used = 0
                for index, segment in enumerate(bar.segments):
                    last = index == len(bar.segments) - 1
                    width = BAR - used if last else round(segment.share * BAR)
                    used += width
                    line.append("█" * width, style=_TONE[segment.tone])
                line.append(f"  {bar.summary}")
                lines.append(line)
    return lines
