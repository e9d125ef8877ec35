"""The device fleet's distribution and its judgement (design §13): a pure table."""

from __future__ import annotations

import pytest

from reconciler.diff.adoption import (
    Policy,
    Share,
    Tier,
    distribution,
    judge_fleet,
    summary,
)
from reconciler.model.codes import FindingCode
from reconciler.model.status import Status

DAY = 86400.0
POLICY = Policy(target=0.9, within=7 * DAY, progress_deadline=DAY)
REVS = {"sha256:new": "v47", "sha256:mid": "v46", "sha256:old": "v45"}


def label(rev: str | None) -> str:
    return rev or "-"


def test_distribution_is_shares_largest_first_and_unknown_digests_drifted() -> None:
    shares = distribution(
        {"sha256:mid": 30, "sha256:new": 62.0, "sha256:odd": 8, "sha256:gone": 0},
        REVS.get,
    )
    assert shares == [
        Share("sha256:new", "v47", 0.62, 62),
        Share("sha256:mid", "v46", 0.30, 30),
        Share("sha256:odd", None, 0.08, 8),
    ]
    assert summary("android", "mid", shares, label) == "android/mid: 62% v47, 30% v46, 8% drifted"
    assert distribution({}, REVS.get) == []
    assert summary("android", "mid", [], label) == "android/mid: no devices reported"


def _tier(new: int, mid: int = 0, old: int = 0, **extra: object) -> Tier:
    counts = {"sha256:new": new, "sha256:mid": mid, "sha256:old": old}
    return Tier("mid", "sha256:new", distribution(counts, REVS.get), **extra)  # type: ignore[arg-type]


NOW = 100 * DAY


@pytest.mark.parametrize(
    ("tier", "status", "codes"),
    [
        (_tier(95, 5), Status.IN_SYNC, []),
        (_tier(90, 10), Status.IN_SYNC, []),
        (_tier(60, 40), Status.LAGGING, []),
        # within passed since the manifest switched, still below target
        (_tier(60, 40, switched_at=NOW - 8 * DAY), Status.LAGGING, ["adoption_stalled"]),
        (_tier(60, 40, switched_at=NOW - 6 * DAY), Status.LAGGING, []),
        # grew by less than one point over progress_deadline
        (
            _tier(60, 40, earlier=(NOW - DAY, 0.595), switched_at=NOW - DAY),
            Status.LAGGING,
            ["adoption_stalled"],
        ),
        (_tier(60, 40, earlier=(NOW - DAY, 0.50), switched_at=NOW - DAY), Status.LAGGING, []),
        (_tier(60, 40, earlier=(NOW - DAY / 2, 0.60), switched_at=NOW - DAY), Status.LAGGING, []),
        # the manifest switched less than progress_deadline ago, or does not serve it yet
        (_tier(60, 40, earlier=(NOW - DAY, 0.60), switched_at=NOW - DAY / 2), Status.LAGGING, []),
        (_tier(60, 40, earlier=(NOW - DAY, 0.60)), Status.LAGGING, []),
        # revoked: one finding per digest while any device runs it
        (
            _tier(95, 3, 2, revoked=frozenset({"sha256:mid", "sha256:old"})),
            Status.IN_SYNC,
            ["revoked", "revoked"],
        ),
        (_tier(100, revoked=frozenset({"sha256:mid"})), Status.IN_SYNC, []),
        # unsupported: one warning for every share before min_supported
        (_tier(95, 3, 2, unsupported=frozenset({"sha256:old"})), Status.IN_SYNC, ["unsupported"]),
    ],
)
def test_judge_fleet(tier: Tier, status: Status, codes: list[str]) -> None:
    judged = judge_fleet("android", [tier], POLICY, NOW, label)
    assert judged.status is status
    assert [f.code for f in judged.findings] == [FindingCode(c) for c in codes]


def test_messages_carry_the_shares() -> None:
    tier = _tier(969, 31, revoked=frozenset({"sha256:mid"}))
    (revoked,) = judge_fleet("android", [tier], POLICY, NOW, label).findings
    assert revoked.level == "error"
    assert revoked.message.startswith("3.1% of android/mid (31 devices) still run revoked v46")
    assert "cannot be forced" in revoked.message
    assert revoked.shares == [Share("sha256:mid", "v46", 0.031, 31)]


def test_an_undeclared_tier_is_a_warning_not_a_crash() -> None:
    judged = judge_fleet("android", [_tier(100)], POLICY, NOW, label, {"xl": 12})
    (finding,) = judged.findings
    assert finding.code is FindingCode.UNDECLARED_TIER and finding.level == "warning"
    assert "'xl' (12 devices)" in finding.message
    assert judged.status is Status.IN_SYNC


def test_one_tier_below_target_makes_the_target_lag() -> None:
    tiers = [
        _tier(100),
        Tier("low", "sha256:x", distribution({"sha256:x": 1, "sha256:y": 9}, {}.get)),
    ]
    assert judge_fleet("android", tiers, POLICY, NOW, label).status is Status.LAGGING
