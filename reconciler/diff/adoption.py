"""A device fleet's effective config as a distribution (design §13), judged. Pure: counts and
lookups in, shares, a status and findings out; no I/O, no clock (``now`` is given).

Per tier, ``share`` = ``devices`` / the tier's devices in the one telemetry query; each digest
is mapped to the newest ancestor revision whose render of that tier has it, and a digest no
revision has is drifted (``revision`` None).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..model.codes import FindingCode, Level
from ..model.status import Status

#: A tier's desired share must grow by at least this much over ``progress_deadline``.
MIN_GROWTH = 0.01


@dataclass(frozen=True, slots=True)
class Share:
    """Devices of one tier on one digest."""

    digest: str
    revision: str | None  #: None: no revision renders this tier so (drifted)
    share: float  #: in [0, 1]
    devices: int

    def to_json(self) -> dict[str, Any]:
        return {
            "digest": self.digest,
            "revision": self.revision,
            "share": round(self.share, 6),
            "devices": self.devices,
        }


def distribution(
    counts: Mapping[str, float], revision_of: Callable[[str], str | None]
) -> list[Share]:
    """One tier's digests -> devices as shares, largest first (ties by digest)."""
    devices = {d: round(n) for d, n in counts.items() if n > 0}
    total = sum(devices.values())
    if total == 0:
        return []
    shares = [Share(d, revision_of(d), n / total, n) for d, n in devices.items() if n > 0]
    return sorted(shares, key=lambda s: (-s.devices, s.digest))


@dataclass(frozen=True)
class Tier:
    """What the audit knows of one tier of one devices target."""

    name: str
    desired: str  #: the desired digest of this tier's render
    shares: list[Share]
    revoked: frozenset[str] = frozenset()  #: digests its manifest revokes
    unsupported: frozenset[str] = frozenset()  #: digests of revisions before min_supported
    #: When its manifest started serving the desired digest (None: it does not yet).
    switched_at: float | None = None
    #: Its desired share ``progress_deadline`` ago, and when that was (None: not known).
    earlier: tuple[float, float] | None = None

    def desired_share(self) -> float:
        return sum(s.share for s in self.shares if s.digest == self.desired)


@dataclass(frozen=True)
class Policy:
    """A devices target's adoption policy, in seconds and fractions."""

    target: float  #: the share each tier should reach
    within: float  #: seconds after its manifest switched
    progress_deadline: float


@dataclass(frozen=True)
class FleetFinding:
    """One finding about one tier (and, for ``revoked``/``unsupported``, one digest)."""

    code: FindingCode
    level: Level
    tier: str
    message: str
    shares: list[Share] = field(default_factory=list)


@dataclass(frozen=True)
class Judged:
    status: Status
    findings: list[FleetFinding]


def judge_fleet(
    where: str,
    tiers: list[Tier],
    policy: Policy,
    now: float,
    label: Callable[[str | None], str],
    undeclared: Mapping[str, int] | None = None,
) -> Judged:
    """``in_sync`` when every tier's desired share reaches the target, else ``lagging``; with
    ``adoption_stalled``, ``revoked``, ``unsupported`` and undeclared-tier findings.

    ``where`` names the target (``android``); ``label`` shows a revision (``v47``);
    ``undeclared`` maps tiers the telemetry reports but the bundle lacks to their devices.
    """
    findings: list[FleetFinding] = []
    status = Status.IN_SYNC
    for tier in tiers:
        name = f"{where}/{tier.name}"
        have = tier.desired_share()
        if have < policy.target:
            status = Status.LAGGING
            stalled = _stalled(tier, have, policy, now)
            if stalled:
                findings.append(
                    FleetFinding(
                        FindingCode.ADOPTION_STALLED,
                        Level.ERROR,
                        tier.name,
                        f"{_pct(have)} of {name} run the desired digest, below the "
                        f"{_pct(policy.target)} target: {stalled}",
                        [s for s in tier.shares if s.digest == tier.desired],
                    )
                )
        for share in tier.shares:
            if share.digest in tier.revoked:
                findings.append(
                    FleetFinding(
                        FindingCode.REVOKED,
                        Level.ERROR,
                        tier.name,
                        f"{_pct(share.share, 1)} of {name} ({share.devices} devices) still run "
                        f"revoked {label(share.revision) if share.revision else share.digest}; "
                        "it cannot be forced: it decays as devices check in",
                        [share],
                    )
                )
        old = [s for s in tier.shares if s.digest in tier.unsupported]
        if old:
            count = sum(s.devices for s in old)
            shown = ", ".join(label(s.revision) for s in old)
            findings.append(
                FleetFinding(
                    FindingCode.UNSUPPORTED,
                    Level.WARNING,
                    tier.name,
                    f"{_pct(sum(s.share for s in old), 1)} of {name} ({count} devices) run "
                    f"revisions older than min_supported: {shown}",
                    old,
                )
            )
    for extra, devices in sorted((undeclared or {}).items()):
        findings.append(
            FleetFinding(
                FindingCode.UNDECLARED_TIER,
                Level.WARNING,
                extra,
                f"telemetry reports tier {extra!r} ({devices} devices), "
                "which the bundle does not declare (model.variants)",
            )
        )
    return Judged(status, findings)


def _stalled(tier: Tier, have: float, policy: Policy, now: float) -> str:
    """Why ``tier`` counts as stalled ("" when it does not)."""
    if tier.switched_at is not None and now - tier.switched_at > policy.within:
        return f"its manifest switched {_days(now - tier.switched_at)} ago"
    switched_long_ago = (
        tier.switched_at is not None and now - tier.switched_at >= policy.progress_deadline
    )
    if tier.earlier is not None and switched_long_ago:
        then, share = tier.earlier
        if now - then >= policy.progress_deadline and have - share < MIN_GROWTH:
            return (
                f"it grew by {(have - share) * 100:.1f} points in {_days(now - then)} "
                "(less than 1 point)"
            )
    return ""


def summary(where: str, tier: str, shares: list[Share], label: Callable[[str | None], str]) -> str:
    """``android/mid: 62% v47, 30% v46, 8% drifted``."""
    parts = [f"{_pct(s.share)} {label(s.revision) if s.revision else 'drifted'}" for s in shares]
    return f"{where}/{tier}: " + (", ".join(parts) if parts else "no devices reported")


def _pct(share: float, digits: int = 0) -> str:
    return f"{share * 100:.{digits}f}%"


def _days(seconds: float) -> str:
    if seconds >= 86400:
        return f"{seconds / 86400:.1f}d"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f}h"
    if seconds >= 60:
        return f"{seconds / 60:.0f}m"
    return f"{seconds:.0f}s"
