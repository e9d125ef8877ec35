"""What a state backend must do; SQLite implements it, a shared backend (for HA) can later."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from ..model.rollout import Quarantine, Rollout


class StateStore(Protocol):
    """Every write is one transaction; a crash leaves the previous or the next state."""

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

    def skew_since(self, environment: str, bundle: str, target: str) -> float | None: ...

    def quarantine(self, entry: Quarantine) -> None: ...

    def quarantined(self, environment: str, bundle: str, digest: str) -> Quarantine | None: ...

    def quarantines(self, environment: str) -> list[Quarantine]: ...

    def saw_revision(self, environment: str, revision: str, at: float) -> None: ...

    def first_seen(self, environment: str) -> dict[str, float]: ...

    def lift_quarantine(self, environment: str, bundle: str, by: str, at: float) -> int: ...

    def events(self, environment: str, limit: int = 50) -> list[dict[str, Any]]: ...

    def record_event(
        self, environment: str, kind: str, data: Mapping[str, Any], at: float
    ) -> None: ...

    def close(self) -> None: ...
