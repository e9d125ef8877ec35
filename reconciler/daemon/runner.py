"""One environment inside a daemon: lead it (hold its lease, step, write) or follow it (audit
read-only), then publish what was seen — metrics, ``/status``, the on-call page.

A daemon runs one :class:`Runner` per environment it watches; whether a runner may try to lead
is the daemon's call (``--max-environments``). A leader deposed mid-step (its lease taken by a
rollback or by another daemon after a freeze) writes nothing more, says so, and follows.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..model.rollout import Phase
from ..page import OnCallPage
from ..secrets import scrub_data
from .log import log
from .metrics import Families, Metrics

if TYPE_CHECKING:
    from ..rollout.driver import Driver
    from ..rollout.step import Step
    from ..rollout.writer import Writer
    from ..state.interface import StateStore

#: Failed steps in a row after which ``/readyz`` answers 503 (``/healthz`` stays liveness).
UNREADY_AFTER = 3


class Role(StrEnum):
    """What a daemon is for one environment (``/status``'s ``role``)."""

    STARTING = "starting"  #: before its first audit
    LEADER = "leader"  #: holds the environment's lease: writes
    FOLLOWER = "follower"  #: audits only


class Runner:
    """The loop's work for one environment, and what it last published."""

    def __init__(
        self,
        environment: str,
        *,
        families: Families,
        interval: float,
        clock: Callable[[], float],
        files_root: Path,
        verify: bool,
        page_base: str = "",
    ) -> None:
        self.environment = environment
        self.interval = interval
        self.clock = clock
        self.files_root = files_root
        self.verify = verify
        self.metrics = Metrics(environment, families)
        self.page = OnCallPage(environment, interval=interval, clock=clock, base=page_base)
        self._role: Role = Role.STARTING
        self.failures = 0  #: failed steps in a row
        self.state_seconds = 0.0  #: the last step's time in state writes
        self._driver: Driver | None = None
        self._writer: Writer | None = None
        self._status: dict[str, Any] | None = None
        self._lock = threading.Lock()

    # -- what the server reads ---------------------------------------------------------------

    @property
    def status(self) -> dict[str, Any] | None:
        with self._lock:
            return self._status

    @property
    def ready(self) -> bool:
        return self._status is not None and self.failures < UNREADY_AFTER

    @property
    def leading(self) -> bool:
        """Holding the lease of a store that is still the one at its path (a reset replaced
        it: not any more), renewed within the TTL (an outage longer than that: not any more)."""
        writer = self._writer
        if writer is None or not writer.holds():
            return False
        replaced = getattr(writer.store, "replaced", None)
        return not (replaced and replaced())

    @property
    def role(self) -> Role:
        """What ``/readyz`` says: a lease that lapsed or whose store was replaced leads no more."""
        if self._role is Role.LEADER and not self.leading:
            return Role.FOLLOWER
        return self._role

    # -- one step --------------------------------------------------------------------------

    def step(
        self, root: Path, store: StateStore, *, may_lead: bool, fetch_error: str | None
    ) -> None:
        """Lead or follow for one step, then publish; raises what failed (counted by the loop)."""
        started = time.perf_counter()
        writing = getattr(store, "write_seconds", 0.0)
        driver = self._driver_for(root, store)
        with driver.run.open():  # one event loop, one HTTP pool, one inventory read per step
            done = self._lead(driver, store) if may_lead or self.leading else None
            if done is None:
                done = self._follow(driver, store)
        self.state_seconds = getattr(store, "write_seconds", 0.0) - writing
        self._publish(done, time.perf_counter() - started, store, root, fetch_error)
        self.failures = 0

    def failed(self) -> None:
        self.failures += 1
        self.metrics.count_step_error()
        if self._role is Role.LEADER and not self.leading:  # the lease lapsed while the step failed
            assert self._writer is not None
            self._writer.give_up()
            self._became(Role.FOLLOWER)

    def stop(self) -> None:
        """Give the lease up (its release tells a rollback this writer stopped)."""
        if self._writer is not None:
            self._writer.give_up()

    def _driver_for(self, root: Path, store: StateStore) -> Driver:
        from ..rollout.desired import signed_policy
        from ..rollout.driver import Driver
        from ..rollout.fleetsteps import FleetSteering
        from ..rollout.writer import Writer, holder_name

        if self._driver is None or self._driver.repo_root != root.resolve():
            # Who is trusted comes from the operator's checkout (--repo), never from the tip
            # being judged: an unsigned commit must not be able to change the trust.
            self._driver = Driver(
                root,
                self.environment,
                store,
                clock=self.clock,
                files_root=self.files_root,
                user="reconciler-daemon",
                signed=signed_policy(self.files_root, self.environment, self.verify),
            )
            self._driver.fleets = FleetSteering()  # devices targets' manifests, wave by channel
            self._writer = Writer(
                store,
                self.environment,
                holder_name("daemon", "reconciler"),
                ttl=3 * self.interval,
                min_left=self.interval,
            )
        return self._driver

    def _lead(self, driver: Driver, store: StateStore) -> Step | None:
        """Step as the leader; None when another writer holds the lease (or took it)."""
        from ..state.interface import Deposed, LeaseHeld

        writer = self._writer
        assert writer is not None
        try:
            if writer.lease is None:
                writer.take()
            driver.writer = writer
            done = driver.step()
        except (LeaseHeld, Deposed) as exc:
            if self._role is Role.LEADER:
                log("stepped_down", environment=self.environment, reason=str(exc))
            writer.give_up()
            driver.writer = None
            return None
        self._became(Role.LEADER)
        return done

    def _follow(self, driver: Driver, store: StateStore) -> Step:
        """Audit read-only, with the rollouts the leader recorded."""
        from ..rollout.step import BundleStep, Step

        if self._writer is not None and self._writer.lease is not None:
            self._writer.give_up()
        driver.writer = None
        audit = driver.audit()
        self._became(Role.FOLLOWER)
        rollouts = driver.stored(list(audit.verdicts))
        return Step(audit, {b: BundleStep(b, r) for b, r in rollouts.items()})

    def _became(self, role: Role) -> None:
        if role is self._role:
            return
        was, self._role = self._role, role
        if Role.LEADER in (role, was):
            self.metrics.lease_changed(role is Role.LEADER)
        holder = self._writer.holder if self._writer is not None else ""
        log("role", environment=self.environment, role=role, holder=holder)

    # -- publishing -------------------------------------------------------------------------

    def _publish(
        self, done: Step, duration: float, store: StateStore, root: Path, fetch_error: str | None
    ) -> None:
        from ..model.rollout import Notify
        from ..report.rollout import status_json

        audit = done.audit
        now = self.clock()
        self.metrics.export_audit(audit, duration, now)
        policy = audit.inventory.rollout
        rollouts: dict[str, Any] = {}
        for bundle, one in done.bundles.items():
            r = one.rollout
            verdict = audit.verdicts[bundle]
            for target, why in one.failed.items():
                log("apply_failed", bundle=bundle, target=target, error=why)
                self.metrics.count_apply("failed")
            for _ in one.written:
                self.metrics.count_apply("ok")
            for _, _, seconds in one.switches:
                if seconds is not None:
                    self.metrics.export_switch(bundle, seconds)
            for error in one.alert_errors:
                log("alert_failed", bundle=bundle, error=error)
            for action in one.actions:
                if isinstance(action, Notify):
                    self.metrics.count_alert(action.condition, action.state)
            active = r is not None and r.active and verdict.quarantine is None
            self.metrics.export_rollout(
                bundle,
                coverage=r.coverage if r else audit.coverage,
                stalled=verdict.stalled,
                paused=bool(r and r.phase is Phase.PAUSED),
                wave=r.wave if r else 0,
                quarantined=verdict.quarantine is not None,
                deadline=r.deadline(policy.progress_deadline) if r and active else None,
            )
            rollouts[bundle] = status_json(r, policy, now, verdict.quarantine) if r else None
        document = audit.to_json()
        document["rollout"] = rollouts
        document["verdicts"] = {b: v.to_json() for b, v in audit.verdicts.items()}
        document["daemon"] = {
            "role": self.role,
            "git_fetch_error": fetch_error,
            "audit_duration_seconds": round(duration, 3),
        }
        document = scrub_data(document)  # what /status serves: a reflected secret reads ***
        with self._lock:
            self._status = document
        self.page.publish(
            audit,
            {b: one.rollout for b, one in done.bundles.items()},
            store=store,
            repo=root,
            fetch_error=fetch_error,
        )
        log(
            "step",
            environment=self.environment,
            role=self.role,
            revision=audit.desired_revision,
            coverage=audit.coverage,
            stalled=audit.stalled,
            quarantined=audit.quarantined,
            seconds=round(duration, 3),
            state_seconds=round(self.state_seconds, 4),
            targets=len(audit.targets),
        )
