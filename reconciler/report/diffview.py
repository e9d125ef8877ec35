"""``reconciler diff``: one target's changes, one per line, grouped by component."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from ..audit.results import Audit
from ..diff.change import Severity
from ..model.status import Status
from .labels import age, revision_label

if TYPE_CHECKING:
    from rich.console import RenderableType

_STYLE = {
    Severity.BREAKING: "bold red",
    Severity.BEHAVIORAL: "yellow",
    Severity.COMPATIBLE: "cyan",
    Severity.COSMETIC: "dim",
}


def diff_view(audit: Audit, tags: Mapping[str, str]) -> RenderableType:
    from rich.console import Group
    from rich.text import Text

    parts: list[RenderableType] = []
    desired = revision_label(audit.desired_revision, tags)
    for target in audit.targets:
        for bundle in target.bundles:
            head = Text(f"{target.name} / {bundle.bundle}: ", style="bold")
            head.append(str(bundle.status))
            if bundle.observed_revision and bundle.behind:
                head.append(
                    f" at {revision_label(bundle.observed_revision, tags)}, "
                    f"{bundle.behind} behind {desired}, for {age(bundle.lag_seconds)}"
                )
            if bundle.stalled:
                head.append(" STALLED", style="bold red")
            if bundle.error:
                head.append(f" ({bundle.error})", style="red")
            parts.append(head)
            if bundle.changes:
                parts.append(Text("  what converging to desired would change:", style="dim"))
            current = None
            for change in bundle.changes:
                if change.component != current:
                    current = change.component
                    parts.append(Text(f"  {current}", style="bold"))
                line = Text("    ")
                line.append(f"{change.severity:<10}", style=_STYLE[change.severity])
                line.append(f" {change.kind:<7} ")
                if change.path:
                    line.append(f"{change.path}: ", style="dim")
                line.append(change.summary)
                if change.breaks:
                    line.append(f" [breaks {change.breaks}]", style="red")
                parts.append(line)
                for text in change.lines:
                    style = {"-": "red", "+": "green"}.get(text[:1], "dim")
                    parts.append(Text(f"        {text}", style=style))
            for item in bundle.ignored:
                parts.append(
                    Text(f"  ignored {item.component} {item.path}: {item.reason}", style="dim")
                )
            if not bundle.changes and bundle.status == Status.IN_SYNC:
                parts.append(Text("  no differences", style="green"))
    return Group(*parts)
