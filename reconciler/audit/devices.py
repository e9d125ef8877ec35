"""Device fleets in the audit (design §13): read each devices target's telemetry (one instant
query) and its manifests, then judge the distribution with the pure :mod:`reconciler.diff.adoption`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..bundle.tierhistory import ancestors_of, digests_at, tier_revisions
from ..bundle.tiers import tier_render, tiers
from ..diff.adoption import Policy, Tier, distribution, judge_fleet
from ..errors import ConfigError, ReconcilerError
from ..model.manifests import MANIFEST_SCHEMA
from ..model.status import Status
from ..revisions import SHORT
from ..sources.interface import SourceError
from ..sources.manifests import manifest_part
from .results import BundleResult, Finding

if TYPE_CHECKING:
    from ..bundle.history import BundleHistory
    from ..gates.telemetry import Counts
    from ..model.inventory import Inventory, TargetSpec
    from ..sources.registry import SourceContext


@dataclass
class Reading:
    """What one read of one devices target for one bundle found."""

    counts: Counts | None = None
    error: str | None = None
    #: Prometheus refused the query itself (wrong PromQL, series without ``tier``/``digest``):
    #: the target's telemetry is misconfigured, not out of reach.
    refused: bool = False
    #: The same query one progress deadline earlier (None: it gave nothing), and when.
    earlier: Counts | None = None
    earlier_at: float = 0.0
    #: (channel, tier) -> the manifest it serves (absent: none, or unreadable)
    manifests: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)


async def read_devices(
    targets: list[TargetSpec],
    bundles: list[str],
    declared: Mapping[str, list[str]],
    ctx: SourceContext,
    environment: str,
    earlier: float,
) -> dict[tuple[str, str], Reading]:
    """Every devices target's telemetry (now, and at ``earlier``: one progress deadline ago)
    and manifests, for each bundle, concurrently."""
    jobs = [(t, b) for t in targets for b in bundles]
    done = await asyncio.gather(
        *(_read(t, b, declared[b], ctx, environment, earlier) for t, b in jobs)
    )
    return {(t.name, b): reading for (t, b), reading in zip(jobs, done, strict=True)}


async def _read(
    target: TargetSpec,
    bundle: str,
    tier_names: list[str],
    ctx: SourceContext,
    env: str,
    earlier: float,
) -> Reading:
    assert target.telemetry is not None
    # Prometheus' client (and the gate models it reads) load only when a fleet is audited.
    from ..gates.prometheus import QueryFailed, substitute
    from ..gates.telemetry import read_counts

    promql = substitute(
        target.telemetry.query, {"bundle": bundle, "target": target.name, "environment": env}
    )
    # The widest channel's manifests (the last: stable) say what the fleet is offered and
    # what a rollback revoked (a rollback writes every channel alike).
    parts = [(target.channels[-1], t) for t in tier_names]
    asked = [read_manifest(target, bundle, c, t, ctx) for c, t in parts]
    where = f"target {target.name}: telemetry"
    answers = await asyncio.gather(
        read_counts(target.telemetry, promql, ctx.env, where, (None, earlier), ctx.http),
        *asked,
        return_exceptions=True,
    )
    reading = Reading(earlier_at=earlier)
    counts = answers[0]
    if isinstance(counts, ReconcilerError):
        reading.error = f"telemetry: {counts}"
    elif isinstance(counts, BaseException):
        raise counts
    else:
        assert isinstance(counts, list)
        now_counts, then_counts = counts
        if isinstance(now_counts, QueryFailed):
            reading.error = f"telemetry: {now_counts}"
            reading.refused = now_counts.refused
        else:
            reading.counts = now_counts
        if not isinstance(then_counts, QueryFailed):
            reading.earlier = then_counts
    for part, manifest in zip(parts, answers[1:], strict=True):
        if isinstance(manifest, dict):
            reading.manifests[part] = manifest
        elif isinstance(manifest, BaseException) and not isinstance(
            manifest, SourceError | ValueError
        ):
            raise manifest
    return reading


async def read_manifest(
    target: TargetSpec, bundle: str, channel: str, tier: str, ctx: SourceContext
) -> dict[str, Any] | None:
    """The manifest one channel's devices of ``tier`` poll (None: there is none)."""
    from ..sources.registry import open_source

    source = open_source(manifest_part(target, bundle, channel, tier), ctx)
    try:
        body = await source.fetch(bundle)
    finally:
        await source.close()
    doc = json.loads(body) if isinstance(body, bytes | str) else None
    if not isinstance(doc, dict) or doc.get("schema") != MANIFEST_SCHEMA:
        raise ValueError("not a device manifest")
    return doc


def judge_target(
    target: TargetSpec,
    inventory: Inventory,
    reads: Mapping[tuple[str, str], Reading],
    histories: Mapping[str, BundleHistory],
    tags: Mapping[str, str],
    now: float,
) -> tuple[list[BundleResult], list[Finding]]:
    """Each bundle of one devices target, judged, and the findings."""
    results, findings = [], []
    for bundle in inventory.bundles:
        history = histories[bundle]
        deadline = inventory.rollout.progress_deadline
        result, more = judge_devices(
            target, bundle, reads[(target.name, bundle)], history, deadline, tags, now
        )
        results.append(result)
        findings += more
    return results, findings


def judge_devices(
    target: TargetSpec,
    bundle: str,
    reading: Reading,
    history: BundleHistory,
    deadline: float,
    tags: Mapping[str, str],
    now: float,
) -> tuple[BundleResult, list[Finding]]:
    """The devices target's bundle result (with its ``distribution``) and its findings.

    A tier's manifest counts as switched since the desired content reached the branch (the
    audit reads no switch time from a manifest).
    """
    desired = history.desired_render(target.name)
    names = tiers(desired)
    if reading.counts is None:
        error = reading.error or "telemetry: no answer"
        status = Status.INVALID if reading.refused else Status.UNREACHABLE
        return BundleResult(bundle, status, error=error), []
    revisions = tier_revisions(history, target.name)
    unsupported_revs: set[str] = set()
    if target.min_supported:
        try:
            unsupported_revs = ancestors_of(history, target.min_supported)
        except ReconcilerError as exc:
            raise ConfigError(
                f"target {target.name}: min_supported {target.min_supported!r}: {exc}"
            ) from None
    known = {}
    for tier in names:
        want = tier_render(desired, tier).digest
        shares = distribution(reading.counts.get(tier, {}), revisions.get(tier, {}).get)
        serving = {m.get("digest") for (_, t), m in reading.manifests.items() if t == tier}
        revoked = frozenset(
            str(d) for (_, t), m in reading.manifests.items() if t == tier for d in _revoked(m)
        )
        known[tier] = Tier(
            tier,
            want,
            shares,
            revoked=revoked,
            unsupported=frozenset(s.digest for s in shares if s.revision in unsupported_revs),
            earlier=_earlier(reading, tier, want),
            switched_at=_since(history, target.name, tier, want, revisions[tier][want])
            if serving == {want} and want in revisions.get(tier, {})
            else None,
        )
    undeclared = {
        tier: int(sum(found.values()))
        for tier, found in reading.counts.items()
        if tier not in known and sum(found.values()) > 0
    }
    adoption = Policy(target.adoption.target, target.adoption.within, deadline)

    def label(rev: str | None) -> str:
        return short_label(rev, tags)

    judged = judge_fleet(target.name, list(known.values()), adoption, now, label, undeclared)
    result = BundleResult(bundle, judged.status, desired_digest=desired.digest)
    result.distribution = {tier: known[tier].shares for tier in names}
    result.adoption = {tier: known[tier].desired_share() for tier in names}
    result.tier_digests = {tier: known[tier].desired for tier in names}
    findings = [Finding(f.level, f.code, f.message, target.name, bundle) for f in judged.findings]
    return result, findings


def _revoked(manifest: Mapping[str, Any]) -> list[Any]:
    revoked = manifest.get("revoked")
    return revoked if isinstance(revoked, list) else []


def _since(history: BundleHistory, target: str, tier: str, digest: str, newest: str) -> float:
    """When the oldest revision of the run of revisions up to ``newest`` whose ``tier`` render
    is ``digest`` reached the branch: the earliest its manifest could have switched."""
    first = newest
    for sha in history.shas[history.shas.index(newest) :]:
        if digests_at(history, sha, target).get(tier) != digest:
            break
        first = sha
    return history.arrived(first)


def check_fleets(
    fleets: list[TargetSpec], histories: Mapping[str, BundleHistory], environment: str
) -> dict[str, list[str]]:
    """Each bundle's device tiers; a ConfigError when a devices target cannot hold them."""
    from ..model.manifests import check_manifest_key

    declared: dict[str, list[str]] = {}
    for bundle, history in histories.items():
        declared[bundle] = tiers(history.desired_render(None)) if fleets else []
    rel = f"targets/{environment}.yaml"
    for target in fleets:
        for bundle, names in declared.items():
            if not names:
                raise ConfigError(
                    f"target {target.name}: a devices target needs device tiers, and bundle "
                    f"{bundle!r} has no model.variants",
                    file=rel,
                )
            why = check_manifest_key(target.manifest_template(), names)
            if why is not None:
                raise ConfigError(f"target {target.name}: {why}", file=rel)
    return declared


def short_label(rev: str | None, tags: Mapping[str, str]) -> str:
    """``v47`` when the revision has a tag, else its short sha (``drifted`` for None)."""
    if rev is None:
        return "drifted"
    return tags.get(rev) or rev[:SHORT]


def _earlier(reading: Reading, tier: str, want: str) -> tuple[float, float] | None:
    """When, and the desired share of ``tier`` one progress deadline ago (None: no devices)."""
    found = (reading.earlier or {}).get(tier, {})
    total = sum(found.values())
    if total <= 0:
        return None
    return reading.earlier_at, found.get(want, 0.0) / total
