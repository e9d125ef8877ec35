"""The state store contract: what a backend keeps (SQLite embedded, PostgreSQL shared) and how
writers take turns (a lease per environment, with a fencing token).

Every write is one transaction; a crash leaves the previous or the next state. While a store is
*fenced* by a lease (:meth:`StateStore.fence`), every write of that environment is conditional on
the lease's token: a writer that lost its lease writes nothing and learns it (:class:`Deposed`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ..errors import ReconcilerError
from ..model.rollout import Quarantine, Rollout
from .switches import SwitchStore


class StateUnavailable(ReconcilerError):
    """The store cannot be read or written (missing, truncated, malformed, unreachable)."""


class LeaseHeld(ReconcilerError):
    """Another writer holds the environment's lease."""

    def __init__(self, holder: LeaseInfo) -> None:
        self.holder = holder
        super().__init__(
            f"environment {holder.environment}: another writer holds the lease: {holder.holder} "
            f"(token {holder.token}, {holder.seconds_left:.0f}s left unless renewed)"
        )


class Deposed(ReconcilerError):
    """This writer's lease was taken over (pre-empted or expired): it must write nothing more."""

    def __init__(self, environment: str, token: int, now_holder: str | None, why: str = "") -> None:
        self.environment = environment
        self.token = token
        self.now_holder = now_holder
        by = f" by {now_holder}" if now_holder else ""
        because = why or f"pre-empted{by} (our lease token {token} is no longer valid)"
        super().__init__(f"environment {environment}: {because}; nothing more was written")


@dataclass(frozen=True)
class Lease:
    """A writer's hold on one environment: its fencing token grows at every change of holder."""

    environment: str
    holder: str
    token: int
    ttl: float  #: seconds it lasts past each renewal (the database's clock)


@dataclass(frozen=True)
class LeaseInfo:
    """Who holds an environment's lease, as the database sees it now."""

    environment: str
    holder: str
    token: int
    seconds_left: float  #: negative once expired
    #: The holder this one pre-empted, until it says it stopped (or its lease ran out).
    previous_holder: str | None = None
    previous_token: int | None = None
    previous_done: bool = True

    @property
    def live(self) -> bool:
        return self.seconds_left > 0


@dataclass(frozen=True)
class EvalRecord:
    """An eval of exactly one bundle digest: passed or failed, with where its report is."""

    environment: str
    digest: str
    result: str  #: passed | failed
    at: float
    by: str
    report: str | None = None


class StateStore(SwitchStore, Protocol):
    """What every backend does; one parametrized test suite runs against each."""

    #: Where the store lives, for messages (a file path, or a URL without its password).
    where: str
    #: The store did not exist before this process opened it.
    created: bool

    # -- rollouts, statuses, applies, alerts, events -----------------------------------------

    def load_rollout(self, environment: str, bundle: str) -> Rollout | None: ...

    def save_rollout(
        self, rollout: Rollout, now: float, events: Sequence[tuple[str, Mapping[str, Any]]] = ()
    ) -> None: ...

    def record_applies(
        self,
        environment: str,
        bundle: str,
        revision: str,
        at: float,
        outcomes: Sequence[tuple[str, str, str | None]],
    ) -> None: ...

    def observe_targets(
        self, environment: str, bundle: str, seen: Mapping[str, tuple[str, str | None]], at: float
    ) -> list[tuple[str, str | None, str]]: ...

    def record_alert(
        self,
        environment: str,
        bundle: str,
        condition: str,
        state: str,
        at: float,
        payload: Mapping[str, Any],
    ) -> None: ...

    def alerts(self, environment: str) -> list[dict[str, Any]]: ...

    def record_event(
        self, environment: str, kind: str, data: Mapping[str, Any], at: float
    ) -> None: ...

    def events(self, environment: str, limit: int = 50) -> list[dict[str, Any]]: ...

    # -- quarantines, first sightings, evals ---------------------------------------------------

    def quarantine(self, entry: Quarantine) -> None: ...

    def quarantined(self, environment: str, bundle: str, digest: str) -> Quarantine | None: ...

    def quarantines(self, environment: str) -> list[Quarantine]: ...

    def lift_quarantine(self, environment: str, bundle: str, by: str, at: float) -> int: ...

    def saw_revision(self, environment: str, revision: str, at: float) -> None: ...

    def first_seen(self, environment: str) -> dict[str, float]: ...

    def record_eval(self, record: EvalRecord) -> None: ...

    def evals(self, environment: str, digest: str) -> list[EvalRecord]: ...

    # -- one writer per environment -----------------------------------------------------------

    def acquire(
        self, environment: str, holder: str, ttl: float, *, preempt: bool = False
    ) -> Lease: ...

    def renew(self, lease: Lease) -> float: ...

    def release(self, lease: Lease) -> None: ...

    def lease(self, environment: str) -> LeaseInfo | None: ...

    def leases(self) -> list[LeaseInfo]: ...

    def fence(self, lease: Lease | None) -> None: ...

    def environments(self) -> list[str]: ...

    def close(self) -> None: ...
