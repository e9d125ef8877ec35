"""Whose word counts on "stalled": git timestamps, or the recorded rollout (design §6).

An audit alone derives stalled from git commit times, so a scheduled CI audit catches a stall
without any daemon. Where the rollout's state is available (converge or the daemon recorded it
for this very desired content), its Stalled condition is the authority: a canary baking its
two hours is not stalled however old the commit, and a rollout stuck behind a target that is
unreachable is stalled although no target is lagging.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..canonical import bundle_digest
from ..classify import Status
from ..results import Audit, Finding
from .model import Phase, Rollout


def fleet_digest(audit: Audit, bundle: str) -> str:
    """What the fleet should carry for ``bundle``: per-target desired digests (overlays too)."""
    per_target = {}
    for target in audit.targets:
        for result in target.bundles:
            if result.bundle == bundle and result.desired_digest:
                per_target[target.name] = result.desired_digest
    return bundle_digest(per_target)


def defer_to_rollouts(audit: Audit, rollouts: Mapping[str, Rollout | None]) -> None:
    """Replace the git-derived stalled verdicts of ``audit`` by the rollouts' own, per bundle.

    A rollout counts only when it runs to the audit's desired content and is not aborted (an
    aborted rollout decides nothing: the git-derived verdict stands).
    """
    for bundle, rollout in rollouts.items():
        if rollout is None or rollout.phase is Phase.ABORTED:
            continue
        if rollout.digest != fleet_digest(audit, bundle):
            continue
        blocking = (
            {name: t for name, t in rollout.targets.items() if not t.converged}
            if rollout.stalled
            else {}
        )
        for target in audit.targets:
            for result in target.bundles:
                if result.bundle == bundle:
                    result.stalled = result.status is Status.LAGGING and target.name in blocking
        audit.findings = [
            f for f in audit.findings if not (f.code == "stalled" and f.bundle == bundle)
        ]
        audit.stalled_bundles.discard(bundle)
        if not rollout.stalled:
            continue
        audit.stalled_bundles.add(bundle)
        condition = rollout.conditions["Stalled"]
        for name, progress in sorted(blocking.items()):
            why = f" — {progress.reason}" if progress.reason else ""
            audit.findings.append(
                Finding("error", "stalled", f"rollout {condition.message}{why}", name, bundle)
            )
        if not blocking:
            audit.findings.append(
                Finding("error", "stalled", f"rollout {condition.message}", bundle=bundle)
            )
