"""What one rollout step did: per bundle (applies, alerts, quarantine), and for the environment
(the judged audit). Plain data the CLI prints and the daemon publishes."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..audit.results import Audit
from ..model.canary_progress import CanaryState
from ..model.rollout import Apply, Notify, Phase, Quarantine, Revert, Rollout
from ..model.status import Status


@dataclass
class BundleStep:
    """What one step did for one bundle."""

    bundle: str
    rollout: Rollout | None
    actions: list[Notify | Apply | Revert] = field(default_factory=list)
    quarantined: Quarantine | None = None
    written: list[str] = field(default_factory=list)  #: targets whose write succeeded
    failed: dict[str, str] = field(default_factory=dict)  #: target -> why its write failed
    alert_errors: list[str] = field(default_factory=list)  #: webhooks that did not take one
    #: Parts written because another part of their group was (design §12).
    came_along: list[str] = field(default_factory=list)
    #: (group, outcome, torn window in seconds) of each group switch of more than one part.
    switches: list[tuple[str, str, float | None]] = field(default_factory=list)
    #: The release flag's canary weights (of 1000) written this step, in order (design §12.1).
    canary_weights: list[int] = field(default_factory=list)

    @property
    def blocked(self) -> bool:
        """Cannot progress without a person (or a new commit)."""
        if self.quarantined is not None:
            return True
        r = self.rollout
        if r is None:
            return False
        waiting = r.active and bool(r.awaiting_eval)  # an eval is for a person (or CI) to record
        # A promotion or a closed window: a one-shot converge stops; the daemon waits it out.
        waiting = waiting or (r.active and r.held is not None)
        return waiting or r.stalled or r.phase in (Phase.PAUSED, Phase.ABORTED)

    @property
    def complete(self) -> bool:
        r = self.rollout
        settled = r is None or r.canary is None or r.canary.state is CanaryState.SETTLED
        return self.quarantined is None and r is not None and r.phase is Phase.COMPLETE and settled


@dataclass
class Step:
    """One observe-advance-act cycle of an environment, ending in the judged audit."""

    audit: Audit
    bundles: dict[str, BundleStep]
    scope: str | None = None  #: the one target a scoped converge concerns

    @property
    def complete(self) -> bool:
        # a devices target's adoption is observed, never awaited (§13): its manifests are
        # converged by the fleet's own switch, not by this step's
        targets = [
            t
            for t in self.audit.targets
            if self.scope in (None, t.name) and not t.spec.is_devices()
        ]
        done = all(b.complete for b in self.bundles.values())
        return done and all(t.status is Status.IN_SYNC for t in targets)

    @property
    def blocked(self) -> bool:
        return any(b.blocked for b in self.bundles.values())
