"""The judge's rules from a validated ``rollout.canary`` spec (:mod:`reconciler.model.canary`)."""

from __future__ import annotations

from ..model.canary import CanaryJudge
from .judge import Rule


def rules_of(judge: CanaryJudge) -> list[Rule]:
    """One :class:`~reconciler.canary.judge.Rule` per metric, in the spec's order."""
    return [
        Rule(m.name, m.test, worse=m.worse, tolerance=m.tolerance, critical=m.critical)
        for m in judge.metrics
    ]
