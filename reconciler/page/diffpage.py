"""One target's page: its semantic diff, change by change, as ``reconciler diff`` prints it.

The same heading per bundle and the same words per change (severity, kind, path, summary, which
readers break, a prompt's changed lines); components are ordered by their worst change, so
breaking changes come first.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..audit.results import Audit, BundleResult, TargetResult
from ..diff.change import Change
from ..model.status import Status
from ..report.labels import age, revision_label
from .view import TONE


@dataclass(frozen=True)
class ChangeView:
    severity: str
    kind: str
    path: str
    summary: str
    breaks: str  #: ``readers_of_old`` etc., or ""
    lines: tuple[tuple[str, str], ...]  #: (tone: del | add | same, the line as diff prints it)


@dataclass(frozen=True)
class ComponentView:
    component: str
    changes: tuple[ChangeView, ...]


@dataclass(frozen=True)
class BundleDiff:
    bundle: str
    status: str
    tone: str
    detail: str  #: `` at v46 (1a2b3c4), 1 behind v47 (...), for 6h00m``
    stalled: bool
    error: str
    components: tuple[ComponentView, ...]
    ignored: tuple[str, ...]
    in_sync: bool


@dataclass(frozen=True)
class TargetDiff:
    name: str
    kind: str
    status: str
    tone: str
    desired: str
    bundles: tuple[BundleDiff, ...]


def find(audit: Audit, name: str) -> TargetResult | None:
    return next((t for t in audit.targets if t.name == name), None)


def target_diff(audit: Audit, target: TargetResult) -> TargetDiff:
    desired = revision_label(audit.desired_revision, audit.tags)
    bundles = tuple(_bundle(b, desired, audit) for b in target.bundles)
    status = str(target.status)
    tone = TONE.get(status, "bad")
    return TargetDiff(target.name, target.spec.kind, status, tone, desired, bundles)


def _bundle(b: BundleResult, desired: str, audit: Audit) -> BundleDiff:
    detail = ""
    if b.observed_revision and b.behind:
        detail = (
            f" at {revision_label(b.observed_revision, audit.tags)}, "
            f"{b.behind} behind {desired}, for {age(b.lag_seconds)}"
        )
    if b.held:
        detail += ", held (quarantined)"
    status = str(b.status)
    return BundleDiff(
        bundle=b.bundle,
        status=status,
        tone=TONE.get(status, "bad"),
        detail=detail,
        stalled=b.stalled,
        error=b.error or "",
        components=tuple(_components(b.changes)),
        ignored=tuple(f"ignored {i.component} {i.path}: {i.reason}" for i in b.ignored),
        in_sync=not b.changes and b.status == Status.IN_SYNC,
    )


def _components(changes: list[Change]) -> list[ComponentView]:
    """Grouped by component like ``reconciler diff``; the component with the worst change first,
    and within one, the worst change first (the diff engine's order among equals)."""
    groups: dict[str, list[Change]] = {}
    for change in changes:
        groups.setdefault(change.component, []).append(change)
    ordered = sorted(
        groups.items(), key=lambda item: -max(c.severity.rank for c in item[1])
    )  # stable: among equals, the component order of the diff engine
    return [
        ComponentView(
            component,
            tuple(_change(c) for c in sorted(group, key=lambda c: -c.severity.rank)),
        )
        for component, group in ordered
    ]


def _change(c: Change) -> ChangeView:
    lines = tuple(({"-": "del", "+": "add"}.get(text[:1], "same"), text) for text in c.lines)
    return ChangeView(
        severity=str(c.severity),
        kind=str(c.kind),
        path=c.path,
        summary=c.summary,
        breaks=str(c.breaks) if c.breaks else "",
        lines=lines,
    )
