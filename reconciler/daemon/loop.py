"""The long-running reconciler of one environment (design §8, §9).

Each interval: fetch the tracked git remote into the daemon's own clone (never the user's
working tree), then one driver step (audit, advance every rollout, act, persist), then metrics
and ``/status``. A failing fetch keeps the last known desired revision and raises a condition;
SIGTERM/SIGINT finish the current step and exit 0.
"""

from __future__ import annotations

import json
import random
import re
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import ReconcilerError
from ..page import OnCallPage
from ..secrets import scrub, scrub_data
from ..statedir import state_dir
from .metrics import Metrics
from .server import StatusServer


def log(event: str, **fields: Any) -> None:
    """One JSON line on stderr per event (structured logs; known secrets masked, design §11)."""
    record = {"ts": round(time.time(), 3), "event": event, **fields}
    sys.stderr.write(scrub(json.dumps(record, default=str)) + "\n")
    sys.stderr.flush()


class Tracker:
    """Where desired state comes from: a clone of the remote, or the repo as it is.

    ``branch`` None tracks the remote's own default branch (its ``HEAD``), whatever its name.
    """

    def __init__(self, repo_root: Path, environment: str, branch: str | None) -> None:
        self.repo_root = repo_root.resolve()
        self.branch = branch
        self.remote = _git(self.repo_root, "config", "--get", "remote.origin.url", check=False)
        self.clone = state_dir(self.repo_root) / "daemon" / environment / "clone"
        self.fetch_error: str | None = None

    @property
    def root(self) -> Path:
        """The repo the driver reads bundles and the inventory from."""
        return self.clone if self.remote else self.repo_root

    @property
    def ready(self) -> bool:
        """Desired state can be read: no remote, or a clone exists (fresh or last known)."""
        return not self.remote or (self.clone / ".git").is_dir()

    @property
    def tracking(self) -> str:
        if not self.remote:
            return "HEAD"
        return f"origin/{self.branch}" if self.branch else "origin/HEAD (the remote's default)"

    def update(self) -> bool:
        """Fetch and check out the tip of the tracked branch; False keeps the last known one."""
        if not self.remote:
            return True
        remote = self.remote
        if "://" not in remote and "@" not in remote and not remote.startswith("/"):
            remote = str((self.repo_root / remote).resolve())  # a path relative to the repo
        try:
            if not (self.clone / ".git").is_dir():
                self.clone.parent.mkdir(parents=True, exist_ok=True)
                _git(self.clone.parent, "clone", "-q", "--no-checkout", remote, self.clone.name)
            else:
                _git(self.clone, "fetch", "-q", "--prune", "origin")
            branch = self.branch or self._default_branch()
            _git(self.clone, "checkout", "-q", "--force", "--detach", f"origin/{branch}")
        except ReconcilerError as exc:
            self.fetch_error = str(exc)
            return False
        self.fetch_error = None
        return True

    def _default_branch(self) -> str:
        """The remote's default branch, as the clone recorded it (asked again when missing)."""
        ref = ("symbolic-ref", "--short", "refs/remotes/origin/HEAD")
        head = _git(self.clone, *ref, check=False)
        if not head.startswith("origin/"):
            _git(self.clone, "remote", "set-head", "origin", "--auto")
            head = _git(self.clone, *ref, check=False)
        if not head.startswith("origin/"):
            raise ReconcilerError("git: the remote names no default branch; pass --branch")
        return head.removeprefix("origin/")


#: ``https://user:token@host`` -> ``https://***@host`` in anything git says.
_CREDENTIALS = re.compile(r"(://)[^/@\s]+@")


def _git(cwd: Path, *args: str, check: bool = True) -> str:
    # Its own session: a SIGTERM to the daemon's process group must not kill git mid-step (the
    # daemon finishes the step, then exits 0).
    proc = subprocess.run(
        ["git", "-C", str(cwd), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        start_new_session=True,
    )
    if proc.returncode != 0 and check:
        # Git's whole message (its first lines often say why), credentials in URLs masked.
        lines = [_CREDENTIALS.sub(r"\1***@", line) for line in proc.stderr.strip().splitlines()]
        message = " / ".join(lines[-6:]) or f"exit code {proc.returncode}"
        raise ReconcilerError(f"git {args[0]}: {message}")
    return proc.stdout.strip()


#: Failed steps in a row after which ``/readyz`` answers 503 (``/healthz`` stays liveness).
UNREADY_AFTER = 3
#: The first retry of a failed step comes after this many seconds, doubling up to the interval.
RETRY_FIRST = 1.0


class Daemon:
    """Runs the loop; ``stop()`` (or a signal) ends it after the current step.

    No step can end the loop: any exception is logged with its traceback, counted in
    ``reconciler_step_errors_total`` and retried with backoff — a dead daemon is the quietest
    stall there is.
    """

    def __init__(
        self,
        repo_root: Path,
        environment: str,
        *,
        interval: float = 30.0,
        listen: str = "127.0.0.1:9464",
        branch: str | None = None,
        jitter: float = 0.1,
        clock: Callable[[], float] = time.time,
        verify: bool = False,
    ) -> None:
        self.verify = verify  #: --verify-signatures: only signed revisions are applied
        self.repo_root = repo_root.resolve()
        self.environment = environment
        self.interval = interval
        self.jitter = jitter
        self.clock = clock
        self.tracker = Tracker(self.repo_root, environment, branch)
        self.metrics = Metrics(environment)
        self.metrics.set_interval(interval)
        self.page = OnCallPage(environment, interval=interval, clock=clock)
        self.server = StatusServer(
            listen,
            metrics=self.metrics.render,
            status=self.status,
            alive=self.alive,
            ready=self.ready,
            page=self.page.respond,
        )
        self._stop = threading.Event()
        self._status: dict[str, Any] | None = None
        self._heartbeat = time.monotonic()
        self._lock = threading.Lock()
        self._failures = 0  #: failed steps in a row
        self._driver: Any = None
        self._writer: Any = None
        self.role = "starting"  #: leader (holds the lease, writes) or follower (audits only)

    def status(self) -> dict[str, Any] | None:
        with self._lock:
            return self._status

    def alive(self) -> bool:
        """The loop has ticked recently (a wedged loop turns /healthz red)."""
        return time.monotonic() - self._heartbeat < max(3 * self.interval, 60.0)

    def ready(self) -> bool:
        """An audit was published, and the last steps did not all fail."""
        return self._status is not None and self._failures < UNREADY_AFTER

    def stop(self, *_: object) -> None:
        self._stop.set()

    def run(self) -> int:
        from ..state import open_store

        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        self.server.start()
        log(
            "started",
            environment=self.environment,
            listen=self.server.url,
            tracking=self.tracker.tracking,
        )
        store = open_store(self.repo_root)
        try:
            while not self._stop.is_set():
                self._heartbeat = time.monotonic()
                self._stop.wait(max(self._guarded_tick(store), 0.05))
        finally:
            self.server.stop()
            if self._writer is not None:
                self._writer.give_up()
            store.close()
            log("stopped", environment=self.environment)
        return 0

    def _guarded_tick(self, store: Any) -> float:
        """One step that cannot end the loop; the seconds to wait before the next one."""
        try:
            self._tick(store)
        except Exception as exc:
            if self._stop.is_set():  # a signal to the process group also ends our git children
                log("step_interrupted", environment=self.environment, reason="shutting down")
                return 0.0
            self._failures += 1
            self.metrics.count_step_error()
            known = isinstance(exc, ReconcilerError)  # the tool's own: its message says it all
            log(
                "step_failed",
                environment=self.environment,
                error=str(exc) if known else f"{type(exc).__name__}: {exc}",
                failures_in_a_row=self._failures,
                **({} if known else {"traceback": traceback.format_exc()}),
            )
            return min(self.interval, RETRY_FIRST * 2 ** (self._failures - 1))
        self._failures = 0
        return self.interval * (1 + random.uniform(-self.jitter, self.jitter))

    def _tick(self, store: Any) -> None:
        from ..rollout.driver import Driver

        fetched = self.tracker.update()
        self.metrics.set_git_fetch_ok(fetched)
        if not fetched:
            if not self.tracker.ready:  # nothing to audit yet: retried with backoff
                raise ReconcilerError(f"no desired state yet: {self.tracker.fetch_error}")
            log(
                "git_fetch_failed",
                error=self.tracker.fetch_error,
                keeping="last known desired revision",
            )
        started = time.perf_counter()
        if self._driver is None or self._driver.repo_root != self.tracker.root.resolve():
            from ..rollout.commands import signed_policy

            # Who is trusted comes from the operator's checkout (--repo), never from the tip
            # being judged: an unsigned commit must not be able to change the trust.
            self._driver = Driver(
                self.tracker.root,
                self.environment,
                store,
                clock=self.clock,
                files_root=self.repo_root,
                user="reconciler-daemon",
                signed=signed_policy(self.repo_root, self.environment, self.verify),
            )
        step = self._step(self._driver, store)
        self._publish(step, time.perf_counter() - started)

    def _step(self, driver: Any, store: Any) -> Any:
        """Lead (hold the lease, step, write) when the lease is free or ours; else follow
        (audit read-only). A leader pre-empted mid-step writes nothing more and follows."""
        from ..rollout.driver import BundleStep, Step
        from ..rollout.writer import Writer, holder_name
        from ..state.interface import Deposed, LeaseHeld

        if self._writer is None:
            self._writer = Writer(
                store,
                self.environment,
                holder_name("daemon", "reconciler"),
                ttl=3 * self.interval,
                min_left=self.interval,
            )
        writer = self._writer
        was = self.role
        try:
            if writer.lease is None:
                writer.take()
            driver.writer = writer
            step = driver.step()
            self.role = "leader"
        except (LeaseHeld, Deposed) as exc:
            if was == "leader":
                log("stepped_down", environment=self.environment, reason=str(exc))
            writer.give_up()  # a deposed leader's release tells a rollback it stopped
            driver.writer = None
            self.role = "follower"
            audit = driver.audit()
            bundles = {
                b: BundleStep(b, store.load_rollout(self.environment, b)) for b in audit.verdicts
            }
            step = Step(audit, bundles)
        if self.role != was:
            self.metrics.lease_changed(self.role == "leader")
            log("role", environment=self.environment, role=self.role, holder=writer.holder)
        return step

    def _count(self, done: Any) -> None:
        """Feed the alert and apply counters from what this step did."""
        from ..model.rollout import Notify

        for _ in done.written:
            self.metrics.count_apply("ok")
        for _ in done.failed:
            self.metrics.count_apply("failed")
        for action in done.actions:
            if isinstance(action, Notify):
                self.metrics.count_alert(action.condition, action.state)

    def _publish(self, step: Any, duration: float) -> None:
        from ..report.rollout import status_json

        audit = step.audit
        now = self.clock()
        self.metrics.observe_audit(audit, duration, now)
        policy = audit.inventory.rollout
        rollouts: dict[str, Any] = {}
        for bundle, done in step.bundles.items():
            r = done.rollout
            verdict = audit.verdicts[bundle]
            for target, why in done.failed.items():
                log("apply_failed", bundle=bundle, target=target, error=why)
            for error in done.alert_errors:
                log("alert_failed", bundle=bundle, error=error)
            self._count(done)
            active = r is not None and r.active and verdict.quarantine is None
            self.metrics.observe_rollout(
                bundle,
                coverage=r.coverage if r else audit.coverage,
                stalled=verdict.stalled,
                paused=bool(r and r.phase == "paused"),
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
            "git_fetch_error": self.tracker.fetch_error,
            "audit_duration_seconds": round(duration, 3),
        }
        document = scrub_data(document)  # what /status serves: a reflected secret reads ***
        with self._lock:
            self._status = document
        self.page.publish(
            audit,
            {b: done.rollout for b, done in step.bundles.items()},
            store=self._driver.store,
            repo=self.tracker.root,
            fetch_error=self.tracker.fetch_error,
        )
        log(
            "step",
            environment=self.environment,
            revision=audit.desired_revision,
            coverage=audit.coverage,
            stalled=audit.stalled,
            quarantined=audit.quarantined,
            seconds=round(duration, 3),
        )
