"""A devices target's distribution as one bar per tier (design §13), for ``skew`` and the page:
the desired digest's share first (ok), older revisions (warn), then digests no revision has
(bad). Pure: a bundle result in, segments out."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..audit.results import BundleResult
from ..revisions import SHORT


@dataclass(frozen=True)
class Segment:
    label: str  #: ``v47``, a short sha, or ``drifted``
    share: float  #: in [0, 1]
    tone: str  #: ok | warn | bad

    @property
    def percent(self) -> str:
        return f"{self.share * 100:.0f}%"


@dataclass(frozen=True)
class TierBar:
    tier: str
    segments: tuple[Segment, ...]

    @property
    def summary(self) -> str:
        """``62% v47, 30% v46, 8% drifted``."""
        return ", ".join(f"{s.percent} {s.label}" for s in self.segments) or "no devices"


def tier_bars(result: BundleResult, tags: Mapping[str, str]) -> list[TierBar]:
    """One bar per tier of a devices target's bundle (none for any other target)."""
    bars = []
    desired = result.tier_digests or {}
    for tier, shares in (result.distribution or {}).items():
        ordered = sorted(shares, key=lambda s: (s.digest != desired.get(tier), s.revision is None))
        segments = []
        for share in ordered:
            if share.digest == desired.get(tier):
                tone = "ok"
            elif share.revision is not None:
                tone = "warn"
            else:
                tone = "bad"
            label = (
                (tags.get(share.revision) or share.revision[:SHORT])
                if share.revision
                else "drifted"
            )
            segments.append(Segment(label, share.share, tone))
        bars.append(TierBar(tier, tuple(segments)))
    return bars
