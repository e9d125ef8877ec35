"""The persisted state of a rollout, and what the engine observes and asks for (pure data).

These are plain types below every layer that stores or steps them: the state store persists them,
the engine (:mod:`reconciler.rollout.engine`) advances them, the audit's verdict reads them.

Conditions follow kstatus/Flux: ``Ready``, ``Reconciling`` and ``Stalled`` (the last two are
"abnormal-true": present only while true), each with a PascalCase reason, a message, the revision
it was computed for, and the time its status, reason or message last changed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any, Literal

from .canary_progress import CanaryProgress
from .duration import format_duration


class Phase(StrEnum):
    """Where a rollout is."""

    PROGRESSING = "progressing"  #: applying and baking, wave by wave
    PAUSED = "paused"  #: no applies until resumed (by a person or a recovered health gate)
    COMPLETE = "complete"  #: every target converged, healthy, and every wave baked
    ABORTED = "aborted"  #: stopped by a person, or rolled back after a stall


class ConditionType(StrEnum):
    """The kinds of condition a rollout carries (kstatus: the last three are abnormal-true)."""

    READY = "Ready"  #: always present: true once complete and verified
    RECONCILING = "Reconciling"  #: present while the rollout is making progress
    STALLED = "Stalled"  #: present while no target converged for progress_deadline
    QUARANTINED = "Quarantined"  #: present while the rollout's digest is quarantined
    #: present after a group switch failed on one part and the others were switched back
    SWITCH_REVERTED = "SwitchReverted"
    CANARY_FAILED = "CanaryFailed"  #: present while a failed canary pauses the rollout
    CANARY_MARGINAL = "CanaryMarginal"  #: present while a marginal canary holds at its weight


class Reason(StrEnum):
    """Why a condition is what it is."""

    PROGRESSING = "Progressing"  #: targets of the current wave are being converged
    TARGET_UNAVAILABLE = "TargetUnavailable"  #: a target is down or slow: retried, may recover
    TARGET_REJECTED = "TargetRejected"  #: a target refuses for good (auth, not found, invalid)
    BAKING = "Baking"  #: the current wave converged; waiting out its bake time
    PAUSED = "Paused"  #: paused by a person
    HEALTH_FAILING = "HealthCheckFailing"  #: paused by a failing health gate
    DEADLINE = "ProgressDeadlineExceeded"  #: no target converged for progress_deadline
    SUCCEEDED = "RolloutSucceeded"  #: complete and verified by re-fetching
    ABORTED = "Aborted"  #: aborted by a person
    ROLLED_BACK = "RolledBack"  #: rolled back after a stall (on_stall: rollback), every write done
    ROLLBACK_IMPOSSIBLE = "RollbackImpossible"  #: what a converged target ran before is unknown
    ROLLBACK_FAILED = "RollbackFailed"  #: a write of the rollback failed; retried next step
    QUARANTINED = "Quarantined"  #: the desired digest was rolled back from; nothing is applied
    ANALYSIS_FAILED = "AnalysisFailed"  #: a bake gate (metrics, output contract) said no: paused
    AWAITING_EVAL = "AwaitingEval"  #: require_eval: no passing eval of the desired digest yet
    AWAITING_PROMOTION = "AwaitingPromotion"  #: promotion: the upstream has not completed + soaked
    WAITING_FOR_WINDOW = "WaitingForWindow"  #: windows: closed now; nothing is applied
    SWITCH_REVERTED = "SwitchReverted"  #: a part's switch failed: the group went back whole
    CANARY_STEP = "CanaryStep"  #: a canary step is staged, written or baking
    CANARY_FAILED = "CanaryFailed"  #: a critical canary metric failed: weight 0, quarantined
    CANARY_MARGINAL = "CanaryMarginal"  #: a non-critical canary metric failed: held


@dataclass
class Condition:
    """One condition of a rollout."""

    type: str  #: a :class:`ConditionType`
    status: bool
    reason: str
    message: str
    revision: str
    since: float


#: ``Pause.cause`` of a pause a failing bake gate made (it lifts only by a person's resume).
GATE_PAUSE = "analysis"
#: ... of a failing bake gate with ``on_fail: rollback`` (its wave is put back, then it ends).
GATE_ROLLBACK = "analysis-rollback"
#: ... of a failed canary (a critical metric) or a marginal one (a non-critical metric).
CANARY_PAUSE = "canary"


@dataclass
class Pause:
    """Who paused the rollout, why and when."""

    by: str
    reason: str
    at: float
    #: "" for a person's pause or a failing health gate's, GATE_PAUSE for a failing bake gate.
    cause: str = ""


@dataclass(frozen=True)
class Wait:
    """What holds a rollout this step, legitimately (design §14): the driver's reading of the
    promotion and the windows, handed to the engine. The progress clock does not run under it."""

    reason: str  #: Reason.AWAITING_PROMOTION or Reason.WAITING_FOR_WINDOW
    message: str  #: no countdown in it: it feeds a condition, whose time must not tick
    until: float | None = None  #: when it ends, where known (the window opens, the soak ends)
    max_wait: float | None = None  #: held longer than this (windows.max_wait): Stalled
    stalled: str = ""  #: the wait is itself stalled, and why (the upstream is stalled)


@dataclass
class Hold:
    """A :class:`Wait` as recorded on a rollout: since when it holds, so every consumer can
    judge it as of now (:func:`overdue`)."""

    reason: str
    message: str
    since: float
    until: float | None = None
    limit: float | None = None  #: since + max_wait: held past this, it is Stalled
    stalled: str = ""


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
    failure: str = ""  #: "" (none), "transient" (retry may help) or "permanent" (needs a person)
    #: The revision it ran when the rollout started (the audit's lineage): where
    #: ``on_stall: rollback`` puts it back. None when unknown (drifted, missing, unreachable).
    before: str | None = None
    advisory: bool = False  #: its health check is advisory: shown and alerted, never a gate
    advisory_alerted: bool = False  #: a warning for its failing advisory check is firing
    #: Bake gate -> since when it has passed without a break, within its wave's bake.
    holding: dict[str, float] = field(default_factory=dict)
    gate_wait: str = ""  #: why its bake gates do not let its wave go yet ("" when they do)


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
    #: While ``on_stall: rollback`` cannot finish: RollbackImpossible or RollbackFailed, and why.
    rollback_reason: str | None = None
    rollback_message: str = ""
    #: require_eval: why no wave may start ("" once a passing eval of the digest exists).
    awaiting_eval: str = ""
    #: The bundle's content digest (the desired render, no overlay): what promotion compares.
    content: str = ""
    completed_at: float | None = None  #: when it last became complete
    #: A promotion wait let it start (it never waits for its upstream again).
    promoted: bool = False
    held: Hold | None = None  #: a legitimate wait (promotion, windows) holds it now
    hold_ended_at: float | None = None  #: the last wait ended here: the deadline restarts
    canary: CanaryProgress | None = None  #: rollout.canary: where its traffic canary is

    @property
    def coverage(self) -> float:
        """Converged targets / all targets."""
        if not self.targets:
            return 1.0
        return sum(1 for t in self.targets.values() if t.converged) / len(self.targets)

    @property
    def stalled(self) -> bool:
        """The Stalled condition is set (as last stepped; see :func:`overdue` for as of now)."""
        return ConditionType.STALLED in self.conditions

    @property
    def active(self) -> bool:
        """Neither complete nor aborted: it should be making progress."""
        return self.phase not in (Phase.COMPLETE, Phase.ABORTED)

    def deadline(self, progress_deadline: float) -> float:
        """When the rollout stalls unless it progresses first; a wave's bake is not a stall."""
        last = max(self.started_at, self.last_progress_at, self.hold_ended_at or 0.0)
        if self.wave_ready_at is not None and self.wave < len(self.bakes):
            last = max(last, self.wave_ready_at + self.bakes[self.wave])
        canary = self.canary
        if canary is not None and canary.holding and canary.written_at is not None:
            last = max(last, canary.written_at + canary.bake)  # a canary's bake is no stall
        return last + progress_deadline

    def blocking(self) -> tuple[tuple[str, str], ...]:
        """Targets that keep the current wave from finishing, with why."""
        out = []
        for name, t in sorted(self.targets.items()):
            if t.wave > self.wave:
                continue
            if not t.converged:
                out.append((name, t.reason or "not converged"))
            elif t.healthy is False and not t.advisory:
                out.append((name, f"health failing ({t.fail_streak} checks in a row)"))
            elif t.healthy is None and not t.advisory:
                out.append((name, "health not yet confirmed"))
            elif t.gate_wait:
                out.append((name, t.gate_wait))
        return tuple(out)

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
        data["held"] = Hold(**data["held"]) if data.get("held") else None
        data["phase"] = Phase(data["phase"])
        canary = data.get("canary")
        data["canary"] = CanaryProgress.from_json(canary) if canary else None
        return cls(**data)


def overdue(rollout: Rollout, progress_deadline: float, now: float) -> bool:
    """Stalled as of ``now``: an active rollout whose deadline has passed, stepped or not.

    The one rule every consumer applies (design §6): the engine when it steps, the audit's
    verdict, ``rollout status``, the daemon's metrics. A rollout nobody steps any more (a
    ``converge`` that exited at a pause) still turns stalled when its deadline passes.
    """
    if not rollout.active:
        return False
    if rollout.stalled:
        return True
    held = rollout.held
    if held is None:
        return now > rollout.deadline(progress_deadline)
    # A legitimate wait stops the clock (design §14) until it ends; past its bound, it stalls.
    if held.stalled or (held.limit is not None and now > held.limit):
        return True
    if held.until is not None and now >= held.until:
        return now > held.until + progress_deadline
    return False


def hold_overdue(held: Hold, now: float) -> str:
    """Why a wait is stalled as of ``now`` ("" when it is within its bounds)."""
    if held.stalled:
        return held.stalled
    if held.limit is not None and now > held.limit:
        bound = format_duration(held.limit - held.since)
        return f"held past windows.max_wait ({bound}): {held.message}"
    return ""


@dataclass(frozen=True)
class Quarantine:
    """A bundle digest rolled back from: never applied again until the content changes."""

    environment: str
    bundle: str
    digest: str  #: the desired bundle digest that was rolled back from
    revision: str  #: the desired revision it was rolled back from
    at: float
    by: str
    to_revision: str | None = None  #: the revision the rollback put back (None: unknown)


@dataclass(frozen=True)
class GateReading:
    """One bake gate's answer for one target this step: a metric analysis or its outputs."""

    gate: str  #: ``analysis/<name>`` or ``output_contract``
    verdict: Literal["pass", "fail", "wait"]  #: wait: no verdict yet (``on_missing: wait``)
    message: str  #: what was seen, e.g. "`max(...)` = 0.05, above max 0.02"
    hold: float = 0.0  #: seconds it must keep passing, within the bake, before the wave goes
    on_fail: Literal["pause", "rollback"] = "pause"


@dataclass(frozen=True)
class Observation:
    """What one fresh fetch (and health check) of a target found."""

    converged: bool  #: the re-fetched content digest equals desired
    reason: str = ""  #: e.g. "lagging at v46", "unreachable: connection refused"
    health: bool | None = None  #: this check's result; None when not checked this step
    advisory: bool = False  #: the health check is advisory (``gate: advisory``)
    failure: str = ""  #: a failed fetch: "transient" (may recover) or "permanent" (needs a person)
    #: Its bake gates' answers this step (empty: it has none); None when it has gates that
    #: were not asked this step (then its wave cannot finish baking on this step).
    gates: tuple[GateReading, ...] | None = ()


@dataclass(frozen=True)
class Apply:
    """Write the desired document to a target."""

    target: str


@dataclass(frozen=True)
class Notify:
    """Send an alert about a condition transition (or a reminder while it lasts)."""

    condition: str  #: stalled | paused | quarantined | drifted | health | rollback_impossible
    state: Literal["firing", "resolved"]
    targets: tuple[tuple[str, str], ...]
    message: str
    level: Literal["error", "warning"] = "error"  #: an advisory health check alerts as a warning


@dataclass(frozen=True)
class Revert:
    """Put each target back on the revision it ran before the rollout (on_stall: rollback, or
    a bake gate's on_fail: rollback)."""

    targets: tuple[tuple[str, str], ...]  #: (target, revision to put back)
    why: str = "on_stall: rollback"  #: the policy that asked for it (it quarantines the digest)


Action = Apply | Notify | Revert
