"""The plain-text audit: a headline, one line per target that is not in sync, the findings."""

from __future__ import annotations

from collections.abc import Mapping

from ..audit.devices import short_label
from ..audit.results import Audit
from ..diff.adoption import summary
from ..model.status import Status
from .labels import age, primary, revision_label, verdict_mark, worst_change


def headline(audit: Audit, tags: Mapping[str, str]) -> str:
    """``production at v47 (1a2b3c4): 8 targets, 4 in_sync, ...; coverage 50%``, then the
    verdict: ``ROLLOUT STALLED``, or ``QUARANTINED (rolled back by alice ...)``."""
    counts = audit.counts()
    parts = [f"{n} {status}" for status, n in counts.items() if n]
    text = (
        f"{audit.environment} at {revision_label(audit.desired_revision, tags)}: "
        f"{len(audit.targets)} targets, {', '.join(parts)}; coverage {audit.coverage:.0%}"
    )
    for verdict in audit.verdicts.values():
        q = verdict.quarantine
        if q is not None:
            to = f" to {revision_label(q.to_revision, tags)}" if q.to_revision else ""
            text += f"; QUARANTINED ({verdict.bundle} rolled back{to} by {q.by})"
    return text + ("; ROLLOUT STALLED" if audit.stalled else "")


def render_text(audit: Audit, tags: Mapping[str, str], failures: list[str]) -> str:
    lines = [headline(audit, tags), ""]
    width = max((len(t.name) for t in audit.targets), default=10)
    for target in audit.targets:
        top = primary(target)
        status = str(target.status)
        detail = ""
        fleet = top.distribution is not None
        if fleet and top.adoption is not None:
            detail = "adoption " + ", ".join(f"{t} {a:.0%}" for t, a in top.adoption.items())
        elif target.status is Status.LAGGING:
            detail = (
                f"at {revision_label(top.observed_revision, tags)}, {top.behind} behind, "
                f"for {age(top.lag_seconds)}"
                + (f",{verdict_mark(top)}" if verdict_mark(top) else "")
            )
        elif target.error:
            detail = target.error
        change = worst_change(target.bundles)
        line = f"  {target.name:<{width}}  {target.spec.kind:<15} {status:<11} {detail}"
        lines.append(line.rstrip())
        for bundle in target.bundles if fleet else ():
            for tier, shares in (bundle.distribution or {}).items():
                shown = summary(target.name, tier, shares, lambda r: short_label(r, tags))
                lines.append(f"  {'':<{width}}  {shown}")
        if change:
            lines.append(f"  {'':<{width}}  worst change: {change}")
    if audit.findings:
        lines += ["", "findings:"]
        lines += [
            f"  {f.level:<7} {f.code:<16} " + (f"{f.target}: " if f.target else "") + f.message
            for f in audit.findings
        ]
    lines += ["", f"FAIL: {', '.join(failures)}" if failures else "OK: nothing fails the policy"]
    return "\n".join(lines)
