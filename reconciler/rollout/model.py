"""The persisted state of a rollout, and what the engine observes and asks for (pure data).

Conditions follow kstatus/Flux: ``Ready``, ``Reconciling`` and ``Stalled`` (the last two are
"abnormal-true": present only while true), each with a PascalCase reason, a message, the revision
it was computed for, and the time its status, reason or message last changed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any, Literal


class Phase(StrEnum):
    """Where a rollout is."""

    PROGRESSING = "progressing"  #: applying and baking, wave by wave
    PAUSED = "paused"  #: no applies until resumed (by a person or a recovered health gate)
    COMPLETE = "complete"  #: every target converged, healthy, and every wave baked
    ABORTED = "aborted"  #: stopped by a person, or rolled back after a stall


class Reason(StrEnum):
    """Why a condition is what it is."""

    PROGRESSING = "Progressing"  #: targets of the current wave are being converged
    BAKING = "Baking"  #: the current wave converged; waiting out its bake time
    PAUSED = "Paused"  #: paused by a person
    HEALTH_FAILING = "HealthCheckFailing"  #: paused by a failing health gate
    DEADLINE = "ProgressDeadlineExceeded"  #: no target converged for progress_deadline
    SUCCEEDED = "RolloutSucceeded"  #: complete and verified by re-fetching
    ABORTED = "Aborted"  #: aborted by a person
    ROLLED_BACK = "RolledBack"  #: rolled back after a stall (on_stall: rollback)
    QUARANTINED = "Quarantined"  #: the desired digest was rolled back from; nothing is applied


@dataclass
class Condition:
    """One condition of a rollout."""

    type: str  # Ready | Reconciling | Stalled
    status: bool
    reason: str
    message: str
    revision: str
    since: float


@dataclass
class Pause:
    """Who paused the rollout, why and when."""

    by: str
    reason: str
    at: float


@dataclass
class TargetProgress:
    """One target within a rollout."""

    wave: int
    converged: bool = False
    converged_at: float | None = None
    healthy: bool | None = None  #: after hysteresis; None until enough checks were seen
    ok_streak: int = 0
    fail_streak: int = 0
    applies: int = 0  #: attempts since it was last converged (the backoff doubles with each)
    last_apply_at: float | None = None
    reason: str = ""  #: why it is not converged, from the last observation


@dataclass
class Rollout:
    """The move of one bundle in one environment from one revision to another."""

    environment: str
    bundle: str
    from_revision: str | None
    to_revision: str
    digest: str  #: desired bundle digest this rollout converges to
    started_at: float
    last_progress_at: float
    targets: dict[str, TargetProgress]
    waves: list[str] = field(default_factory=list)  #: wave names, in order
    bakes: list[float] = field(default_factory=list)  #: bake seconds per wave
    wave: int = 0  #: index of the current wave (== len(waves) when all are done)
    wave_ready_at: float | None = None
    phase: Phase = Phase.PROGRESSING
    pause: Pause | None = None
    stall_alerted_at: float | None = None
    conditions: dict[str, Condition] = field(default_factory=dict)
    #: The most targets converged at once so far: only beating it is progress, so a target
    #: that drifts and converges again, over and over, cannot hold off a stall.
    most_converged: int = 0

    @property
    def coverage(self) -> float:
        """Converged targets / all targets."""
        if not self.targets:
            return 1.0
        return sum(1 for t in self.targets.values() if t.converged) / len(self.targets)

    @property
    def stalled(self) -> bool:
        return "Stalled" in self.conditions

    def deadline(self, progress_deadline: float) -> float:
        """When the rollout stalls unless it progresses first; a wave's bake is not a stall."""
        last = max(self.started_at, self.last_progress_at)
        if self.wave_ready_at is not None and self.wave < len(self.bakes):
            last = max(last, self.wave_ready_at + self.bakes[self.wave])
        return last + progress_deadline

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["phase"] = str(self.phase)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Rollout:
        data = dict(data)
        data["targets"] = {k: TargetProgress(**v) for k, v in data["targets"].items()}
        data["conditions"] = {k: Condition(**v) for k, v in data["conditions"].items()}
        data["pause"] = Pause(**data["pause"]) if data.get("pause") else None
        data["phase"] = Phase(data["phase"])
        return cls(**data)


@dataclass(frozen=True)
class Observation:
    """What one fresh fetch (and health check) of a target found."""

    converged: bool  #: the re-fetched content digest equals desired
    reason: str = ""  #: e.g. "lagging at v46", "unreachable: connection refused"
    health: bool | None = None  #: this check's result; None when not checked this step


@dataclass(frozen=True)
class Apply:
    """Write the desired document to a target."""

    target: str


@dataclass(frozen=True)
class Notify:
    """Send an alert about a condition transition (or a reminder while it lasts)."""

    condition: str  # stalled | paused | quarantined | complete
    state: Literal["firing", "resolved"]
    targets: tuple[tuple[str, str], ...]
    message: str


@dataclass(frozen=True)
class Revert:
    """Put the previous revision back on these targets (on_stall: rollback)."""

    targets: tuple[str, ...]


Action = Apply | Notify | Revert
