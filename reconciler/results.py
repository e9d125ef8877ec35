"""What an audit found (design §8, contract): per target, per bundle, findings, summary.

Plain data with ``to_json`` giving the audit JSON exactly as the contract writes it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from . import ignore as ignoring
from .classify import Status, worst_status
from .diff.change import Change, Severity
from .model.inventory import Inventory, TargetSpec
from .render import Rendered

AUDIT_SCHEMA = "agent-reconciler.audit/v1"
DEFAULT_FAIL_ON = ("drifted", "invalid", "unreachable", "missing", "stalled", "breaking")
FAIL_ON_CHOICES = frozenset(
    [s.value for s in Status] + [s.value for s in Severity] + ["stalled", "torn"]
)


@dataclass(slots=True)
class Finding:
    """Something the audit wants a person to read, beyond the statuses."""

    level: str  # error | warning | info
    code: str
    message: str
    target: str | None = None
    bundle: str | None = None

    def to_json(self) -> dict[str, Any]:
        # ``target`` is always there (design §8's shape); null for a fleet-wide finding.
        data: dict[str, Any] = {"level": self.level, "code": self.code, "target": self.target}
        if self.bundle is not None:
            data["bundle"] = self.bundle
        data["message"] = self.message
        return data


@dataclass(slots=True)
class BundleResult:
    """One bundle on one target."""

    bundle: str
    status: Status
    error: str | None = None
    observed_digest: str | None = None
    observed_revision: str | None = None
    behind: int | None = None
    lag_seconds: int | None = None
    stalled: bool = False
    changes: list[Change] = field(default_factory=list)
    ignored: list[ignoring.Ignored] = field(default_factory=list)
    desired_digest: str | None = None  #: the digest of what this target should carry
    probe: dict[str, Any] | None = None  #: what the serving process reports it loaded

    def to_json(self) -> dict[str, Any]:
        return {
            "bundle": self.bundle,
            "status": str(self.status),
            "error": self.error,
            "observed_digest": self.observed_digest,
            "observed_revision": self.observed_revision,
            "behind": self.behind,
            "lag_seconds": self.lag_seconds,
            "stalled": self.stalled,
            "changes": [c.to_json() for c in self.changes],
            "ignored": [i.to_json() for i in self.ignored],
            "desired_digest": self.desired_digest,
            **({"probe": self.probe} if self.probe is not None else {}),
        }


@dataclass(slots=True)
class TargetResult:
    """One target: the worst of its bundles."""

    spec: TargetSpec
    bundles: list[BundleResult]

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def status(self) -> Status:
        return worst_status([b.status for b in self.bundles])

    @property
    def error(self) -> str | None:
        worst = max(self.bundles, key=lambda b: b.status.rank, default=None)
        return worst.error if worst is not None else None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.spec.kind,
            "status": str(self.status),
            "error": self.error,
            "bundles": [b.to_json() for b in self.bundles],
        }


@dataclass(slots=True)
class Audit:
    """The result of one audit of one environment."""

    environment: str
    generated_at: dt.datetime
    desired_revision: str
    committed_at: dt.datetime
    desired: dict[str, Rendered]
    targets: list[TargetResult]
    findings: list[Finding]
    inventory: Inventory
    schema: str = AUDIT_SCHEMA  #: the plan reuses this document with its own schema
    #: Bundles whose recorded rollout is Stalled (``rollout.authority``), lagging target or not.
    stalled_bundles: set[str] = field(default_factory=set)

    def counts(self) -> dict[str, int]:
        counts = {str(s): 0 for s in Status}
        for target in self.targets:
            counts[str(target.status)] += 1
        return counts

    @property
    def stalled(self) -> bool:
        return bool(self.stalled_bundles) or any(b.stalled for t in self.targets for b in t.bundles)

    @property
    def coverage(self) -> float:
        if not self.targets:
            return 0.0
        in_sync = sum(1 for t in self.targets if t.status is Status.IN_SYNC)
        return round(in_sync / len(self.targets), 2)

    def summary(self) -> dict[str, Any]:
        counts = self.counts()
        if not counts["not_loaded"]:
            del counts["not_loaded"]  # keep the contract's summary keys unless it happens
        return {
            "targets": len(self.targets),
            **counts,
            "coverage": self.coverage,
            "stalled": self.stalled,
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": self.schema,
            "environment": self.environment,
            "generated_at": _iso(self.generated_at),
            "desired": {
                "revision": self.desired_revision,
                "committed_at": _iso(self.committed_at),
                "bundles": {name: {"digest": r.digest} for name, r in self.desired.items()},
            },
            "summary": self.summary(),
            "targets": [t.to_json() for t in self.targets],
            "findings": [f.to_json() for f in self.findings],
        }

    def failures(self, fail_on: frozenset[str]) -> list[str]:
        """What fails the policy, as short phrases ("2 drifted", "breaking change")."""
        reasons: list[str] = []
        counts = self.counts()
        for status in Status:
            if status.value in fail_on and counts[status.value]:
                reasons.append(f"{counts[status.value]} {status.value}")
        if "stalled" in fail_on and self.stalled:
            reasons.append("rollout stalled")
        if "torn" in fail_on and any(f.code == "torn" for f in self.findings):
            reasons.append("torn bundle")
        severities = {c.severity.value for t in self.targets for b in t.bundles for c in b.changes}
        reasons += [
            f"{s} change" for s in (s.value for s in Severity) if s in fail_on and s in severities
        ]
        return reasons


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def parse_fail_on(text: str) -> frozenset[str]:
    """``drifted,breaking`` -> a set; unknown words are a usage error."""
    words = frozenset(w.strip() for w in text.split(",") if w.strip())
    unknown = sorted(words - FAIL_ON_CHOICES - {"none"})
    if unknown:
        raise ValueError(f"unknown --fail-on value(s): {', '.join(unknown)}")
    return words - {"none"}
