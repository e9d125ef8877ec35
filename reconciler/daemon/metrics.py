"""The daemon's Prometheus metrics: what targets run, rollout state, and the daemon's liveness.

Metrics live in their own registry (not prometheus_client's global one), so two daemons in one
process, or tests, never see each other's series. Label sets of targets that leave the inventory
are removed, not left at their last value.

The per-target families (``reconciler_target_status``, ``reconciler_skew_seconds``) are written
out at scrape time from each environment's last audit (:class:`PerTarget`): a gauge child per
label set costs ~600 bytes, and a state set has 8 of them per target, 5 KB a target held for
as long as the daemon runs.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric

from ..model.status import Status

if TYPE_CHECKING:
    from ..audit.results import Audit

#: Every status a target/bundle can have: one series each, exactly one of them 1 (a state set).
STATUSES = tuple(s.value for s in Status)
_INDEX = {status: number for number, status in enumerate(Status)}
#: Audit durations range from a handful of file targets to a thousand HTTP targets.
DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
#: Torn windows: milliseconds on loopback, seconds when a part is retried.
SWITCH_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
#: Outcomes :meth:`Metrics.count_apply` expects (others are counted as given).
APPLY_OUTCOMES = ("ok", "failed", "skipped")


#: One target's bundle as the last audit saw it: (target, bundle, status index, lag or None).
Seen = tuple[str, str, int, int | None]


class PerTarget:
    """``reconciler_target_status`` and ``reconciler_skew_seconds``, from each environment's
    last audit, kept as one small tuple per target and bundle and written out when scraped.

    An environment's rows are replaced whole by each audit, so a target that left the
    inventory is gone from the next scrape.
    """

    STATUS = (
        "reconciler_target_status",
        "What a target runs for a bundle, compared with desired: 1 for the current status, "
        "0 for the others.",
    )
    SKEW = (
        "reconciler_skew_seconds",
        "Seconds a target has lagged the desired revision for a bundle (0 in sync; absent "
        "when unknown: drifted, missing, invalid or unreachable).",
    )

    SHARE = (
        "reconciler_fleet_share",
        "Share (0-1) of a devices target's tier on each revision, from telemetry; revision "
        '"drifted" sums the digests no revision renders.',
    )

    def __init__(self) -> None:
        self.rows: dict[str, list[Seen]] = {}  #: by environment
        #: by environment: (target, bundle, tier, revision or "drifted", share)
        self.shares: dict[str, list[tuple[str, str, str, str, float]]] = {}

    def describe(self) -> list[Metric]:
        return [
            GaugeMetricFamily(*self.STATUS),
            GaugeMetricFamily(*self.SKEW),
            GaugeMetricFamily(*self.SHARE),
        ]

    def collect(self) -> Iterator[Metric]:
        status = GaugeMetricFamily(
            *self.STATUS, labels=("environment", "target", "bundle", "status")
        )
        skew = GaugeMetricFamily(*self.SKEW, labels=("environment", "target", "bundle"))
        for env, rows in list(self.rows.items()):
            for target, bundle, index, lag in rows:
                for number, name in enumerate(STATUSES):
                    status.add_metric((env, target, bundle, name), 1.0 if number == index else 0.0)
                if lag is not None:
                    skew.add_metric((env, target, bundle), float(lag))
        share = GaugeMetricFamily(
            *self.SHARE, labels=("environment", "target", "bundle", "tier", "revision")
        )
        for env, found in list(self.shares.items()):
            for target, bundle, tier, revision, value in found:
                share.add_metric((env, target, bundle, tier, revision), value)
        yield status
        yield skew
        yield share


class AlertFailures:
    """``reconciler_alert_failures_total{type}``: alerts a destination did not take within the
    retry bounds (or dropped from a full queue), read at scrape time from the process's tally."""

    NAME = "reconciler_alert_failures"
    HELP = "Alerts not delivered after bounded retries, by destination type."

    def describe(self) -> list[Metric]:
        return [CounterMetricFamily(self.NAME, self.HELP, labels=("type",))]

    def collect(self) -> Iterator[Metric]:
        from ..alerts.outbox import failures
        from ..model.alerting import KEYS

        family = CounterMetricFamily(self.NAME, self.HELP, labels=("type",))
        counted = failures()
        for kind in KEYS:
            family.add_metric((kind,), float(counted.get(kind, 0)))
        yield family


class Families:
    """Every metric family, once per registry: one daemon serves all its environments' series
    from one registry (two registries would expose each family twice)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.lock = threading.Lock()  # a scrape never sees half of an audit's update
        r = self.registry
        env = ("environment",)
        self.per_target = PerTarget()
        r.register(self.per_target)
        r.register(AlertFailures())
        self.audit_duration = Histogram(
            "reconciler_audit_duration_seconds",
            "Wall time of one audit of the environment (fetch, classify, report).",
            env,
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self.last_audit = Gauge(
            "reconciler_last_audit_timestamp_seconds",
            "Unix time of the last completed audit; a stale value means a dead or wedged daemon.",
            env,
            registry=r,
        )
        self.targets = Gauge(
            "reconciler_targets",
            "Targets of the environment by status (a target takes its worst bundle's status).",
            (*env, "status"),
            registry=r,
        )
        self.coverage = Gauge(
            "reconciler_coverage_ratio",
            "Share of the environment's targets in sync with the desired revision (0 to 1).",
            env,
            registry=r,
        )
        bundle = (*env, "bundle")
        self.rollout_coverage = Gauge(
            "reconciler_rollout_coverage_ratio",
            "Share of a rollout's targets converged to its desired digest (0 to 1).",
            bundle,
            registry=r,
        )
        self.rollout_stalled = Gauge(
            "reconciler_rollout_stalled",
            "1 while the bundle's rollout is stalled (no target converged for progress_deadline).",
            bundle,
            registry=r,
        )
        self.rollout_paused = Gauge(
            "reconciler_rollout_paused",
            "1 while the bundle's rollout is paused, by a person or a failing health gate.",
            bundle,
            registry=r,
        )
        self.rollout_wave = Gauge(
            "reconciler_rollout_wave",
            "Index of the rollout's current wave (0-based; the number of waves once all are done).",
            bundle,
            registry=r,
        )
        self.rollout_quarantined = Gauge(
            "reconciler_rollout_quarantined",
            "1 while the bundle's desired digest is quarantined (rolled back from; not applied).",
            bundle,
            registry=r,
        )
        self.alerts = Counter(
            "reconciler_alerts",
            "Alerts sent, by condition (e.g. stalled) and state (firing or resolved).",
            (*env, "condition", "state"),
            registry=r,
        )
        self.switch_seconds = Histogram(
            "reconciler_switch_seconds",
            "Torn window of each group switch (design 12): first switch request to last "
            "acknowledgement.",
            bundle,
            buckets=SWITCH_BUCKETS,
            registry=r,
        )
        self.applies = Counter(
            "reconciler_applies",
            "Writes of a bundle to a target, by outcome.",
            (*env, "outcome"),
            registry=r,
        )
        self.git_fetch_ok = Gauge(
            "reconciler_git_fetch_ok",
            "1 when the last fetch of the tracked git remote succeeded, else 0.",
            env,
            registry=r,
        )
        self.interval = Gauge(
            "reconciler_interval_seconds",
            "The daemon's step interval: an audit older than 3 of these means it is wedged.",
            env,
            registry=r,
        )
        self.step_errors = Counter(
            "reconciler_step_errors",
            "Steps that failed with an unexpected error (logged with its traceback, retried).",
            env,
            registry=r,
        )
        self.leader = Gauge(
            "reconciler_leader",
            "1 while this daemon holds the environment's lease (it writes), 0 while it follows.",
            env,
            registry=r,
        )
        self.lease_transitions = Counter(
            "reconciler_lease_transitions",
            "Times this daemon became or stopped being the environment's leader.",
            env,
            registry=r,
        )
        self.rollout_deadline = Gauge(
            "reconciler_rollout_deadline_timestamp_seconds",
            "Unix time at which the bundle's active rollout stalls unless it progresses first.",
            bundle,
            registry=r,
        )

    def render(self) -> tuple[bytes, str]:
        """The exposition (Prometheus text format) and its content type."""
        with self.lock:
            return generate_latest(self.registry), CONTENT_TYPE_LATEST


class Metrics:
    """All series of one environment, in a registry of its own unless ``families`` is shared."""

    def __init__(self, environment: str, families: Families | None = None) -> None:
        self.environment = environment
        self.families = families or Families()
        self.registry = self.families.registry
        self._lock = self.families.lock
        self._rollouts: set[str] = set()
        self._deadlines: set[tuple[str, str]] = set()
        self.f = self.families  #: the metric families (shared by every environment's view)
        self.f.step_errors.labels(environment)  # exported at 0 from the start: increase() sees 1
        self.f.leader.labels(environment).set(0)
        self.f.lease_transitions.labels(environment)

    def export_audit(self, audit: Audit, duration: float, finished_at: float) -> None:
        """Export one completed audit; ``finished_at`` is Unix time, ``duration`` seconds."""
        env = self.environment
        rows = [
            (target.name, result.bundle, _INDEX[result.status], result.lag_seconds)
            for target in audit.targets
            for result in target.bundles
        ]
        shares: dict[tuple[str, str, str, str], float] = {}
        for target in audit.targets:
            for result in target.bundles:
                for tier, tier_shares in (result.distribution or {}).items():
                    for one in tier_shares:
                        key = (target.name, result.bundle, tier, one.revision or "drifted")
                        shares[key] = shares.get(key, 0.0) + one.share
        with self._lock:
            self.f.per_target.rows[env] = rows
            self.f.per_target.shares[env] = [(*key, value) for key, value in shares.items()]
            for status, count in audit.counts().items():
                self.f.targets.labels(env, status).set(count)
            self.f.coverage.labels(env).set(audit.coverage)
            self.f.audit_duration.labels(env).observe(duration)
            self.f.last_audit.labels(env).set(finished_at)
            # A bundle dropped from the inventory has no rollout to report any more.
            for bundle in self._rollouts - set(audit.inventory.bundles):
                self._remove_rollout(bundle)

    def export_rollout(
        self,
        bundle: str,
        *,
        coverage: float,
        stalled: bool,
        paused: bool,
        wave: int,
        quarantined: bool,
        deadline: float | None = None,
    ) -> None:
        """Export the state of one bundle's rollout (``deadline``: None when not active)."""
        labels = (self.environment, bundle)
        with self._lock:
            self._rollouts.add(bundle)
            self.f.rollout_coverage.labels(*labels).set(coverage)
            self.f.rollout_stalled.labels(*labels).set(float(stalled))
            self.f.rollout_paused.labels(*labels).set(float(paused))
            self.f.rollout_wave.labels(*labels).set(wave)
            self.f.rollout_quarantined.labels(*labels).set(float(quarantined))
            if deadline is None:
                if labels in self._deadlines:
                    self.f.rollout_deadline.remove(*labels)
                    self._deadlines.discard(labels)
            else:
                self.f.rollout_deadline.labels(*labels).set(deadline)
                self._deadlines.add(labels)

    def _remove_rollout(self, bundle: str) -> None:
        for gauge in (
            self.f.rollout_coverage,
            self.f.rollout_stalled,
            self.f.rollout_paused,
            self.f.rollout_wave,
            self.f.rollout_quarantined,
        ):
            gauge.remove(self.environment, bundle)
        if (self.environment, bundle) in self._deadlines:
            self.f.rollout_deadline.remove(self.environment, bundle)
            self._deadlines.discard((self.environment, bundle))
        self._rollouts.discard(bundle)

    def count_alert(self, condition: str, state: str) -> None:
        """One alert sent (``state`` is firing or resolved)."""
        self.f.alerts.labels(self.environment, condition, state).inc()

    def count_apply(self, outcome: str) -> None:
        """One apply to a target finished with ``outcome`` (see :data:`APPLY_OUTCOMES`)."""
        self.f.applies.labels(self.environment, outcome).inc()

    def export_switch(self, bundle: str, seconds: float) -> None:
        """One group switch of ``bundle`` took ``seconds`` from first request to last ack."""
        self.f.switch_seconds.labels(self.environment, bundle).observe(seconds)

    def count_step_error(self) -> None:
        """One step failed with an unexpected error."""
        self.f.step_errors.labels(self.environment).inc()

    def lease_changed(self, leading: bool) -> None:
        """This daemon became the leader (``leading``) or stopped being it."""
        with self._lock:
            self.f.leader.labels(self.environment).set(float(leading))
            self.f.lease_transitions.labels(self.environment).inc()

    def set_interval(self, seconds: float) -> None:
        self.f.interval.labels(self.environment).set(seconds)

    def set_git_fetch_ok(self, ok: bool) -> None:
        """Whether the last fetch of the git remote succeeded."""
        self.f.git_fetch_ok.labels(self.environment).set(float(ok))

    def render(self) -> tuple[bytes, str]:
        """The exposition (Prometheus text format) and its content type."""
        return self.families.render()
