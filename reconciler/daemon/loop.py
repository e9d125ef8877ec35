"""The long-running reconciler of one environment (design §8, §9).

Each interval: fetch the tracked git remote into the daemon's own clone (never the user's
working tree), then one driver step (audit, advance every rollout, act, persist), then metrics
and ``/status``. A failing fetch keeps the last known desired revision and raises a condition;
SIGTERM/SIGINT finish the current step and exit 0.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import ReconcilerError
from ..statedir import state_dir
from .metrics import Metrics
from .server import StatusServer


def log(event: str, **fields: Any) -> None:
    """One JSON line on stderr per event (structured logs; never secrets)."""
    record = {"ts": round(time.time(), 3), "event": event, **fields}
    sys.stderr.write(json.dumps(record, default=str) + "\n")
    sys.stderr.flush()


class Tracker:
    """Where desired state comes from: a clone of the remote, or the repo as it is."""

    def __init__(self, repo_root: Path, environment: str, branch: str) -> None:
        self.repo_root = repo_root.resolve()
        self.branch = branch
        self.remote = _git(self.repo_root, "config", "--get", "remote.origin.url", check=False)
        self.clone = state_dir(self.repo_root) / "daemon" / environment / "clone"
        self.fetch_error: str | None = None

    @property
    def root(self) -> Path:
        """The repo the driver reads bundles and the inventory from."""
        return self.clone if self.remote else self.repo_root

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
            _git(self.clone, "checkout", "-q", "--force", "--detach", f"origin/{self.branch}")
        except ReconcilerError as exc:
            self.fetch_error = str(exc)
            return False
        self.fetch_error = None
        return True


def _git(cwd: Path, *args: str, check: bool = True) -> str:
    proc = subprocess.run(
        ["git", "-C", str(cwd), *args], capture_output=True, text=True, timeout=120, check=False
    )
    if proc.returncode != 0 and check:
        message = (proc.stderr.strip().splitlines() or ["git failed"])[-1]
        raise ReconcilerError(f"git {args[0]}: {message}")
    return proc.stdout.strip()


class Daemon:
    """Runs the loop; ``stop()`` (or a signal) ends it after the current step."""

    def __init__(
        self,
        repo_root: Path,
        environment: str,
        *,
        interval: float = 30.0,
        listen: str = "127.0.0.1:9464",
        branch: str = "main",
        jitter: float = 0.1,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.repo_root = repo_root.resolve()
        self.environment = environment
        self.interval = interval
        self.jitter = jitter
        self.clock = clock
        self.tracker = Tracker(self.repo_root, environment, branch)
        self.metrics = Metrics(environment)
        self.server = StatusServer(
            listen,
            metrics=self.metrics.render,
            status=self.status,
            alive=self.alive,
            ready=lambda: self._status is not None,
        )
        self._stop = threading.Event()
        self._status: dict[str, Any] | None = None
        self._heartbeat = time.monotonic()
        self._lock = threading.Lock()

    def status(self) -> dict[str, Any] | None:
        with self._lock:
            return self._status

    def alive(self) -> bool:
        """The loop has ticked recently (a wedged loop turns /healthz red)."""
        return time.monotonic() - self._heartbeat < max(3 * self.interval, 60.0)

    def stop(self, *_: object) -> None:
        self._stop.set()

    def run(self) -> int:
        from ..rollout.driver import Driver
        from ..state import open_store

        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        self.server.start()
        log(
            "started",
            environment=self.environment,
            listen=self.server.url,
            tracking=f"origin/{self.tracker.branch}" if self.tracker.remote else "HEAD",
        )
        store = open_store(self.repo_root)
        try:
            while not self._stop.is_set():
                self._heartbeat = time.monotonic()
                self._tick(Driver, store)
                pause = self.interval * (1 + random.uniform(-self.jitter, self.jitter))
                self._stop.wait(max(pause, 0.05))
        finally:
            self.server.stop()
            store.close()
            log("stopped", environment=self.environment)
        return 0

    def _tick(self, driver_type: Any, store: Any) -> None:
        fetched = self.tracker.update()
        self.metrics.set_git_fetch_ok(fetched)
        if not fetched:
            log(
                "git_fetch_failed",
                error=self.tracker.fetch_error,
                keeping="last known desired revision",
            )
        started = time.perf_counter()
        try:
            driver = driver_type(
                self.tracker.root,
                self.environment,
                store,
                clock=self.clock,
                files_root=self.repo_root,
                user="reconciler-daemon",
            )
            step = driver.step()
        except ReconcilerError as exc:
            log("step_failed", error=str(exc))
            return
        duration = time.perf_counter() - started
        self._publish(step, duration)

    def _count(self, done: Any) -> None:
        """Feed the alert and apply counters from what this step did."""
        from ..rollout.model import Apply, Notify

        failed = {error.split(":", 1)[0] for error in done.errors}
        for action in done.actions:
            if isinstance(action, Apply):
                self.metrics.count_apply("failed" if action.target in failed else "ok")
            elif isinstance(action, Notify):
                self.metrics.count_alert(action.condition, action.state)

    def _publish(self, step: Any, duration: float) -> None:
        from ..rollout.authority import defer_to_rollouts
        from ..rollout.view import status_json

        audit = step.audit
        # The rollouts just advanced are the authority on stalled (design §6).
        defer_to_rollouts(audit, {b: done.rollout for b, done in step.bundles.items()})
        now = self.clock()
        self.metrics.observe_audit(audit, duration, now)
        policy = audit.inventory.rollout
        rollouts: dict[str, Any] = {}
        for bundle, done in step.bundles.items():
            r = done.rollout
            for error in done.errors:
                log("action_failed", bundle=bundle, error=error)
            self._count(done)
            self.metrics.observe_rollout(
                bundle,
                coverage=r.coverage if r else audit.coverage,
                stalled=bool(r and r.stalled),
                paused=bool(r and r.phase == "paused"),
                wave=r.wave if r else 0,
                quarantined=done.quarantined is not None,
            )
            rollouts[bundle] = status_json(r, policy.progress_deadline, now) if r else None
            if done.quarantined is not None and rollouts[bundle] is not None:
                rollouts[bundle]["quarantined"] = True
        document = audit.to_json()
        document["rollout"] = rollouts
        document["daemon"] = {
            "git_fetch_error": self.tracker.fetch_error,
            "audit_duration_seconds": round(duration, 3),
        }
        with self._lock:
            self._status = document
        log(
            "step",
            environment=self.environment,
            revision=audit.desired_revision[:12],
            coverage=audit.coverage,
            stalled=any(r and r.get("stalled") for r in rollouts.values()),
            seconds=round(duration, 3),
        )
