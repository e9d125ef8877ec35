"""A simulated device fleet (design §13) for tests and benchmarks: thousands of devices in one
process, on simulated time, polling their manifests from a real server and reporting what they
run on a /metrics endpoint the real Prometheus scrapes.

Vectorised: devices are rows of numpy arrays, not coroutines. Each tick advances the simulated
clock; the devices whose check-in falls due in it poll their manifest (fetched once per tick per
tier and channel: they all read the same document), start downloading a digest they do not run,
and install it after their download delay. Check-in intervals follow a realistic spread: most
devices open the app about daily, a long tail every few weeks, and some never again (they keep
running whatever they last installed)::

    fleet = DeviceFleet(manifest_url, start={"high": d1, "mid": d2, "low": d3})
    fleet.advance(7 * DAY)           # a simulated week, in well under a second of I/O
    fleet.publish(exporter, {"platform": "android", "bundle": "support-agent"})
    fleet.truth()                    # {(tier, digest): devices}: the ground truth
"""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from tests.servers.exporter import Exporter

HOUR = 3600.0
DAY = 24 * HOUR
#: The metric the simulated devices report (a gauge per tier and digest).
METRIC = "agent_active_devices"
#: The share of answers that fail, per tier (what a tier-scoped gate reads).
ERRORS = "agent_tier_error_ratio"
NEVER = math.inf


class DeviceFleet:
    """``devices`` simulated devices over ``tiers`` and ``channels`` (with their shares)."""

    def __init__(
        self,
        manifest_url: Callable[[str, str], str],
        start: Mapping[str, str],
        *,
        devices: int = 10_000,
        tiers: Sequence[str] = ("high", "mid", "low"),
        channels: Mapping[str, float] | None = None,
        seed: int = 7,
        tick: float = HOUR,
        download: float = 2 * HOUR,
    ) -> None:
        self.manifest_url = manifest_url
        self.tiers = list(tiers)
        self.channels = dict(channels or {"beta": 0.1, "stable": 0.9})
        self.tick = tick
        self.now = 0.0
        self.fetches = 0
        rng = np.random.default_rng(seed)
        self.rng = rng
        n = devices
        self.tier = rng.integers(0, len(self.tiers), n)
        self.channel = rng.choice(len(self.channels), n, p=list(self.channels.values()))
        # the check-in spread: 75% about daily, 18% every 2-21 days, 7% never again
        kind = rng.choice(3, n, p=[0.75, 0.18, 0.07])
        interval = np.where(
            kind == 0,
            rng.lognormal(math.log(DAY), 0.35, n),
            rng.uniform(2 * DAY, 21 * DAY, n),
        )
        self.interval = np.where(kind == 2, NEVER, interval)
        self.next = rng.uniform(0, np.minimum(self.interval, 21 * DAY))  # phases spread out
        self.delay = rng.exponential(download, n)  # each device's download time
        self.digests: list[str] = []  #: index -> digest
        self.running = np.array([self._index(start[self.tiers[t]]) for t in self.tier])
        self.pending = np.full(n, -1)
        self.install_at = np.full(n, NEVER)
        self._published: set[tuple[str, str]] = set()
        #: Per tier, the share of its answers that fail (reported as ``ERRORS``).
        self.errors = dict.fromkeys(self.tiers, 0.01)

    def _index(self, digest: str) -> int:
        if digest not in self.digests:
            self.digests.append(digest)
        return self.digests.index(digest)

    # -- time --------------------------------------------------------------------------------

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` of simulated time pass, tick by tick."""
        end = self.now + seconds
        while self.now < end:
            self.now = min(self.now + self.tick, end)
            self._step()

    def _step(self) -> None:
        due = self.next <= self.now
        if due.any():
            for t, tier in enumerate(self.tiers):
                for c, channel in enumerate(self.channels):
                    rows = due & (self.tier == t) & (self.channel == c)
                    if not rows.any():
                        continue
                    digest = self._poll(channel, tier)
                    if digest is None:
                        continue
                    index = self._index(digest)
                    fresh = rows & (self.running != index) & (self.pending != index)
                    self.pending[fresh] = index
                    self.install_at[fresh] = self.now + self.delay[fresh]
            self.next[due] += self.interval[due]
        done = self.install_at <= self.now
        self.running[done] = self.pending[done]
        self.pending[done] = -1
        self.install_at[done] = NEVER

    def _poll(self, channel: str, tier: str) -> str | None:
        """The digest the manifest names now (None: no manifest, or unreadable)."""
        self.fetches += 1
        try:
            with urllib.request.urlopen(self.manifest_url(channel, tier), timeout=5) as answer:
                doc: Any = json.loads(answer.read())
        except (urllib.error.URLError, OSError, ValueError):
            return None
        digest = doc.get("digest") if isinstance(doc, dict) else None
        return digest if isinstance(digest, str) else None

    # -- what changes the fleet --------------------------------------------------------------

    def stop_checkins(self, tier: str) -> None:
        """The devices of ``tier`` stop checking in (an app build that broke its poller)."""
        rows = self.tier == self.tiers.index(tier)
        self.next[rows] = NEVER
        self.install_at[rows] = NEVER

    def regress(self, tier: str, error_ratio: float) -> None:
        """The devices of ``tier`` start failing: ``error_ratio`` of their answers are errors."""
        self.errors[tier] = error_ratio

    # -- what the fleet reports --------------------------------------------------------------

    def truth(self) -> dict[tuple[str, str], int]:
        """Devices per (tier, digest) running now: the ground truth."""
        found: dict[tuple[str, str], int] = {}
        pairs, counts = np.unique(np.stack([self.tier, self.running]), axis=1, return_counts=True)
        for (t, d), n in zip(pairs.T, counts, strict=True):
            found[(self.tiers[int(t)], self.digests[int(d)])] = int(n)
        return found

    def shares(self) -> dict[str, dict[str, float]]:
        """Per tier, each digest's share of its devices (the truth as the audit states it)."""
        truth = self.truth()
        totals: dict[str, int] = {}
        for (tier, _), n in truth.items():
            totals[tier] = totals.get(tier, 0) + n
        shares: dict[str, dict[str, float]] = {}
        for (tier, digest), n in truth.items():
            shares.setdefault(tier, {})[digest] = n / totals[tier]
        return shares

    def publish(self, exporter: Exporter, labels: Mapping[str, str]) -> int:
        """Report active devices per tier and digest as gauges; the total reported."""
        truth = self.truth()
        for (tier, digest), n in truth.items():
            exporter.set(METRIC, {**labels, "tier": tier, "digest": digest}, n)
        for tier, digest in self._published - set(truth):  # gone: Prometheus marks them stale
            exporter.remove(METRIC, {**labels, "tier": tier, "digest": digest})
        self._published = set(truth)
        for tier, ratio in self.errors.items():
            exporter.set(ERRORS, {**labels, "tier": tier}, ratio)
        return sum(truth.values())
