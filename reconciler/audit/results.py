"""What an audit found (design §8, contract): per target, per bundle, findings, summary.

Plain data with ``to_json`` giving the audit JSON exactly as the contract writes it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from ..bundle.rendered import Rendered
from ..diff import ignore as ignoring
from ..diff.change import Change, Severity
from ..model.codes import FindingCode, Level
from ..model.failon import FAIL_ON_FINDINGS
from ..model.rollout import FailureKind
from ..model.status import Status, worst_status
from ..revisions import revision_label
from .verdict import Judged, Recorded, Seen, Verdict, fleet_digest, judge, unverified_finding

if TYPE_CHECKING:
    from ..diff.adoption import Share
    from ..gates.contract import Checked
    from ..model.inventory import Inventory, TargetSpec

AUDIT_SCHEMA = "agent-reconciler.audit/v1"
FAIL_ON_CHOICES = frozenset(
    [s.value for s in Status] + [s.value for s in Severity] + list(FAIL_ON_FINDINGS)
)


@dataclass(slots=True)
class Finding:
    """Something the audit wants a person to read, beyond the statuses."""

    level: Level
    code: FindingCode
    message: str
    target: str | None = None
    bundle: str | None = None

    def to_json(self) -> dict[str, Any]:
        # ``target`` is always there (design §8's shape); null for a fleet-wide finding.
        data: dict[str, Any] = {
            "level": str(self.level),
            "code": str(self.code),
            "target": self.target,
        }
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
    #: The error needs a person (unauthorized, not found, invalid), not a retry (timeout, 5xx).
    permanent: bool = False
    observed_digest: str | None = None
    observed_revision: str | None = None
    behind: int | None = None
    lag_seconds: int | None = None
    stalled: bool = False  #: decided by :func:`reconciler.audit.verdict.judge`, never by classify
    held: bool = False  #: lagging because a quarantine holds it on the rollback's content
    changes: list[Change] = field(default_factory=list)
    ignored: list[ignoring.Ignored] = field(default_factory=list)
    desired_digest: str | None = None  #: the digest of what this target should carry
    probe: dict[str, Any] | None = None  #: what the serving process reports it loaded
    #: Every revision of the lineage whose carried content equals what the target serves (a
    #: prompt registry that carries only the prompt runs every revision that kept the prompt).
    runs_any_of: frozenset[str] = frozenset()
    #: A devices target (design §13): per tier, its devices by digest, largest share first.
    distribution: dict[str, list[Share]] | None = None
    #: A devices target: per tier, the share that runs the desired digest.
    adoption: dict[str, float] | None = None
    #: A devices target: per tier, the desired digest (its tier render's).
    tier_digests: dict[str, str] | None = None

    @property
    def reason(self) -> str:
        """Why it is not in sync, in words that tell a doomed target from a slow one."""
        if self.status is Status.IN_SYNC:
            return ""
        if self.status is Status.LAGGING:
            return "not converged (lagging)"
        if not self.error:
            return str(self.status)
        kind = "needs a person" if self.permanent else "will retry"
        return f"{self.status}: {self.error} ({kind})"

    @property
    def error_kind(self) -> FailureKind:
        """``permanent`` (needs a person) or ``transient`` (will retry)."""
        return FailureKind.PERMANENT if self.permanent else FailureKind.TRANSIENT

    def to_json(self) -> dict[str, Any]:
        return {
            "bundle": self.bundle,
            "status": str(self.status),
            "error": self.error,
            **({"error_kind": str(self.error_kind)} if self.error else {}),
            "observed_digest": self.observed_digest,
            "observed_revision": self.observed_revision,
            "behind": self.behind,
            "lag_seconds": self.lag_seconds,
            "stalled": self.stalled,
            "held": self.held,
            "changes": [c.to_json() for c in self.changes],
            "ignored": [i.to_json() for i in self.ignored],
            "desired_digest": self.desired_digest,
            **({"probe": self.probe} if self.probe is not None else {}),
            **(
                {
                    "distribution": {
                        t: [x.to_json() for x in v] for t, v in self.distribution.items()
                    }
                }
                if self.distribution is not None
                else {}
            ),
        }


@dataclass(slots=True)
class TargetResult:
    """One target: the worst of its bundles."""

    spec: TargetSpec
    bundles: list[BundleResult]
    #: The digests staged on it (design §12), where the state store knows them (None: unknown).
    staged: list[str] | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def status(self) -> Status:
        if len(self.bundles) == 1:  # the common case, asked for once per target per report
            return self.bundles[0].status
        return worst_status([b.status for b in self.bundles])

    @property
    def error(self) -> str | None:
        if len(self.bundles) == 1:
            return self.bundles[0].error
        worst = max(self.bundles, key=lambda b: b.status.rank, default=None)
        return worst.error if worst is not None else None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.spec.kind,
            "status": str(self.status),
            "error": self.error,
            "bundles": [b.to_json() for b in self.bundles],
            **({"staged": self.staged} if self.staged is not None else {}),
        }


@dataclass(slots=True)
class Survey:
    """Every target fetched and classified, before the verdict (:meth:`judged`) is given."""

    environment: str
    generated_at: dt.datetime
    desired_revision: str
    committed_at: dt.datetime
    desired: dict[str, Rendered]
    targets: list[TargetResult]
    findings: list[Finding]
    inventory: Inventory
    tags: Mapping[str, str] = field(default_factory=dict)  #: commit sha -> tag, for labels
    #: Target -> its outputs checked against its output schemas (targets with ``outputs:``).
    outputs: dict[str, Checked] = field(default_factory=dict)
    #: Devices targets kept apart from :attr:`targets` (a rollout step's survey: the engine
    #: moves stores, §13): shown in the judged audit, judged by no bundle's verdict.
    fleets: list[TargetResult] = field(default_factory=list)
    #: The whole inventory when :attr:`fleets` are apart (:attr:`inventory` is the stores').
    whole: Inventory | None = None

    def set_fleets_apart(self) -> None:
        """Move the devices targets to :attr:`fleets`, out of the targets and inventory."""
        if not any(t.is_devices() for t in self.inventory.targets):
            return
        self.fleets = [t for t in self.targets if t.spec.is_devices()]
        self.targets = [t for t in self.targets if not t.spec.is_devices()]
        self.whole = self.inventory
        stores = [t for t in self.inventory.targets if not t.is_devices()]
        self.inventory = self.inventory.model_copy(update={"targets": stores})

    def seen(self, bundle: str) -> list[Seen]:
        """What each target was seen running of ``bundle`` (the verdict's input)."""
        return [
            Seen(t.name, b.status, b.lag_seconds, b.behind, b.desired_digest, b.reason)
            for t in self.targets
            for b in t.bundles
            if b.bundle == bundle
        ]

    def fleet_digest(self, bundle: str) -> str:
        """What the fleet should carry for ``bundle`` (per-target desired digests, overlays too)."""
        return fleet_digest(self.seen(bundle))

    def judged(self, recorded: Recorded | None, now: float) -> Audit:
        """The audit: each bundle judged as of ``now`` (:func:`reconciler.audit.verdict.judge`)."""
        verdicts: dict[str, Verdict] = {}
        findings = list(self.findings)
        marks: dict[tuple[str, str], tuple[bool, bool]] = {}
        for bundle in self.inventory.bundles:
            seen = self.seen(bundle)
            done = judge(
                bundle,
                seen,
                self.inventory.rollout,
                desired_digest=self.desired[bundle].digest,
                recorded=recorded,
                now=now,
                label=lambda sha: revision_label(sha, self.tags),
                windows=getattr(self.inventory, "windows", None),
                soak=self.inventory.promotion.soak if self.inventory.promotion else 0.0,
            )
            verdicts[bundle] = done.verdict
            for s in seen:
                marks[(s.target, bundle)] = (s.target in done.stalled, s.target in done.held)
            findings += [
                Finding(Level.ERROR, code, text, t, bundle) for code, text, t in _swap(done)
            ]
        unverified = unverified_finding(
            recorded, self.desired_revision, lambda sha: revision_label(sha, self.tags)
        )
        if unverified is not None:
            findings.append(Finding(Level.WARNING, FindingCode.UNVERIFIED, unverified))
        targets = [
            TargetResult(t.spec, [_marked(b, marks[(t.name, b.bundle)]) for b in t.bundles])
            for t in self.targets
        ] + self.fleets
        return Audit(
            environment=self.environment,
            generated_at=self.generated_at,
            desired_revision=self.desired_revision,
            committed_at=self.committed_at,
            desired=self.desired,
            targets=targets,
            findings=findings,
            inventory=self.whole or self.inventory,
            verdicts=verdicts,
            tags=self.tags,
        )


def _marked(result: BundleResult, mark: tuple[bool, bool]) -> BundleResult:
    stalled, held = mark
    if (result.stalled, result.held) == (stalled, held):
        return result
    return replace(result, stalled=stalled, held=held)


def _swap(done: Judged) -> list[tuple[FindingCode, str, str | None]]:
    return [(code, message, target) for code, target, message in done.findings]


@dataclass(slots=True)
class Audit:
    """The result of one audit of one environment, judged as of ``generated_at``."""

    environment: str
    generated_at: dt.datetime
    desired_revision: str
    committed_at: dt.datetime
    desired: dict[str, Rendered]
    targets: list[TargetResult]
    findings: list[Finding]
    inventory: Inventory
    verdicts: dict[str, Verdict] = field(default_factory=dict)  #: by bundle
    tags: Mapping[str, str] = field(default_factory=dict)  #: commit sha -> tag, for labels
    schema: str = AUDIT_SCHEMA  #: the plan reuses this document with its own schema

    def counts(self) -> dict[str, int]:
        counts = {str(s): 0 for s in Status}
        for target in self.targets:
            counts[str(target.status)] += 1
        return counts

    @property
    def stalled(self) -> bool:
        return any(v.stalled for v in self.verdicts.values())

    @property
    def quarantined(self) -> bool:
        return any(v.quarantine is not None for v in self.verdicts.values())

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
        summary = {"targets": len(self.targets), **counts, "coverage": self.coverage}
        summary["stalled"] = self.stalled
        if self.quarantined:  # the contract's keys, plus this one only when it is so
            summary["quarantined"] = True
        return summary

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
        if "quarantined" in fail_on and self.quarantined:
            reasons.append("desired content quarantined")
        codes = {f.code for f in self.findings}
        if FindingCode.TORN in fail_on and FindingCode.TORN in codes:
            reasons.append("torn bundle")
        if FindingCode.OUTPUT_CONTRACT in fail_on and FindingCode.OUTPUT_CONTRACT in codes:
            reasons.append("output contract broken")
        if FindingCode.UNVERIFIED in fail_on and FindingCode.UNVERIFIED in codes:
            reasons.append("unverified commit")
        for code in (
            FindingCode.ADOPTION_STALLED,
            FindingCode.REVOKED,
            FindingCode.UNSUPPORTED,
            FindingCode.UNDECLARED_TIER,
        ):
            found = sum(1 for f in self.findings if f.code == code)
            if code in fail_on and found:
                reasons.append(f"{found} {code}")
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
