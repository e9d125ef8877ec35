"""Short human labels shared by every format: revisions, ages, worst changes."""

from __future__ import annotations

from ..audit.results import BundleResult, TargetResult
from ..diff.change import worst
from ..model.duration import format_duration
from ..revisions import revision_label

__all__ = ["age", "primary", "revision_label", "verdict_mark", "worst_change"]


def verdict_mark(result: BundleResult) -> str:
    """What the verdict adds to a status: `` STALLED``, `` held (quarantined)``, or nothing."""
    if result.held:
        return " held (quarantined)"
    return " STALLED" if result.stalled else ""


def age(seconds: int | None) -> str:
    """``5h12m`` or ``-``."""
    return format_duration(seconds) if seconds else "-"


def worst_change(bundles: list[BundleResult]) -> str:
    """``breaking: output_schema/report: summary -> exec_summary`` for the worst change."""
    changes = [c for b in bundles for c in b.changes]
    top = worst(changes)
    if top is None:
        return ""
    more = f" (+{len(changes) - 1})" if len(changes) > 1 else ""
    return f"{top.severity}: {top.component}: {top.summary}{more}"


def primary(target: TargetResult) -> BundleResult:
    """The bundle that decides the target's status (the worst one)."""
    return max(target.bundles, key=lambda b: (b.status.rank, b.lag_seconds or 0))
