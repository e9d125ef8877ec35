"""Observing an environment for one rollout step: the survey, and each target's health, once.

The survey is the audit before its verdict (:class:`~reconciler.audit.results.Survey`); the step
turns it into the engine's input (:class:`~reconciler.model.rollout.Observation` per target)
and, once the rollouts have advanced, into the judged audit.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping
from dataclasses import dataclass

from ..audit.auditor import Auditor
from ..audit.fetch import bounded
from ..audit.results import BundleResult, Survey, TargetResult
from ..audit.verdict import Recorded
from ..environment import EnvironmentRun
from ..model.inventory import Inventory
from ..model.rollout import FailureKind, Observation
from ..model.status import Status
from ..sources.interface import Health, PermanentError, SourceError

#: Statuses whose observed revision says what a target ran (and a rollback may put back).
_KNOWN = (Status.IN_SYNC, Status.LAGGING, Status.NOT_LOADED)


@dataclass(frozen=True)
class Sighting:
    """One step's view of the environment: the survey, and each health check's answer."""

    survey: Survey
    health: Mapping[str, Health]  #: target -> its check (targets without one are absent)

    def observations(self, bundle: str) -> dict[str, Observation]:
        """What the engine takes in for ``bundle``: converged, why not, health, its gate."""
        seen = {}
        for target in self.survey.targets:
            result = _result(target, bundle)
            converged = result.status is Status.IN_SYNC
            reason = result.reason
            check = self.health.get(target.name)
            health = check.ok if check is not None else converged
            advisory = target.spec.health is not None and target.spec.health.gate == "advisory"
            failure = FailureKind.NONE if not result.error or converged else result.error_kind
            seen[target.name] = Observation(converged, reason, health, advisory, failure)
        return seen

    def before(self, bundle: str) -> dict[str, str | None]:
        """What each target runs now, from the audit's lineage (None where unknown)."""
        ran: dict[str, str | None] = {}
        for target in self.survey.targets:
            result = _result(target, bundle)
            ran[target.name] = result.observed_revision if result.status in _KNOWN else None
        return ran


def _result(target: TargetResult, bundle: str) -> BundleResult:
    return next(b for b in target.bundles if b.bundle == bundle)


class Observer:
    """Surveys one environment and runs its health checks, once per step, in its run."""

    def __init__(self, run: EnvironmentRun, *, revision: str | None = None) -> None:
        self.run = run
        self.revision = revision
        #: A command's deadline (``time.monotonic()``), bounding every wait of a step.
        self.deadline: float | None = None

    def auditor(
        self,
        *,
        only: set[str] | None = None,
        recorded: Recorded | None = None,
        revision: str | None = None,
    ) -> Auditor:
        auditor = Auditor(
            self.run.repo_root,
            self.run.environment,
            revision=revision or self.revision,
            only=only,
            recorded=recorded,
            env_run=self.run,
            stores_only=True,
        )
        left = self.left()
        if left is not None:  # a command's --timeout bounds the step's audit too
            auditor.deadline = min(auditor.deadline or left, max(left, 0.1))
        return auditor

    def left(self) -> float | None:
        """Seconds left before :attr:`deadline` (None: no deadline)."""
        return None if self.deadline is None else self.deadline - time.monotonic()

    def sight(
        self,
        now: dt.datetime,
        *,
        only: set[str] | None = None,
        recorded: Recorded | None = None,
        revision: str | None = None,
    ) -> Sighting:
        with self.run.open():  # the survey and the health checks on one loop and HTTP pool
            survey = self.auditor(only=only, recorded=recorded, revision=revision).survey(now)
            return Sighting(survey, self.health(survey.inventory))

    def health(self, inventory: Inventory) -> dict[str, Health]:
        """Every checked target's health, concurrently (a failure is an unhealthy answer)."""
        checked = [t for t in inventory.targets if t.health is not None]
        if not checked:
            return {}

        async def check() -> list[Health | SourceError]:
            ctx, opener = self.run.sources, self.run.opener  # the step's HTTP pool
            return await bounded(checked, lambda t: opener(t, ctx).health())

        answers = self.run.call(check())
        found: dict[str, Health] = {}
        for target, answer in zip(checked, answers, strict=True):
            if isinstance(answer, Health):
                found[target.name] = answer
            else:
                kind = "needs a person" if isinstance(answer, PermanentError) else "will retry"
                found[target.name] = Health(False, f"{answer} ({kind})")
        return found
