"""The long-running reconciler (design §8, §9, §10): one or many environments per daemon.

Each interval: fetch the tracked git remote into the daemon's own clone (never the user's
working tree), then, per environment, one step — as its leader (holding its lease: audit,
advance every rollout, act, persist) or as a follower (audit read-only) — then metrics,
``/status`` and the page. A daemon leads at most ``--max-environments`` environments; an
environment whose leader died is taken over by another daemon within one lease TTL. No step can
end the loop; SIGTERM/SIGINT finish the current step and exit 0.
"""

from __future__ import annotations

import random
import re
import signal
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..bundle.gitrepo import git
from ..errors import ReconcilerError
from ..state.interface import StateUnavailable
from ..state.owned import OwnedStore
from ..statedir import state_dir
from .log import log
from .metrics import Families
from .runner import Runner
from .server import StatusServer
from .stopping import Stop

__all__ = ["Daemon", "Tracker", "log"]

#: The first retry of a failed step comes after this many seconds, doubling up to the interval.
RETRY_FIRST = 1.0


class Tracker:
    """Where desired state comes from: a clone of the remote, or the repo as it is.

    ``branch`` None tracks the remote's own default branch (its ``HEAD``), whatever its name.
    """

    def __init__(self, repo_root: Path, branch: str | None) -> None:
        self.repo_root = repo_root.resolve()
        self.branch = branch
        self.remote = _git(self.repo_root, "config", "--get", "remote.origin.url", check=False)
        self.clone = state_dir(self.repo_root) / "daemon" / "clone"  # one for every environment
        self.fetch_error: str | None = None

    @property
    def root(self) -> Path:
        """The repo the driver reads bundles and the inventory from."""
        return self.clone if self.remote else self.repo_root

    @property
    def ready(self) -> bool:
        """Desired state can be read: no remote, or a clone with a revision checked out (fresh
        or last known; a clone whose branch was never found has none)."""
        if not self.remote:
            return True
        try:
            head = (self.clone / ".git" / "HEAD").read_text()
        except OSError:
            return False
        return not head.startswith("ref:")  # every checkout here is detached at a revision

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
            self._require(branch)
            _git(self.clone, "checkout", "-q", "--force", "--detach", f"origin/{branch}")
        except ReconcilerError as exc:
            self.fetch_error = str(exc)
            return False
        self.fetch_error = None
        return True

    def _require(self, branch: str) -> None:
        """The remote has ``branch``, or one line naming it and the branches it does have."""
        ref = f"refs/remotes/origin/{branch}"
        if _git(self.clone, "rev-parse", "--verify", "--quiet", ref, check=False):
            return
        listed = _git(self.clone, "for-each-ref", "--format=%(refname:lstrip=3)", "refs/remotes/")
        has = sorted(b for b in listed.splitlines() if b and b != "HEAD")
        raise ReconcilerError(
            f"git: the remote has no branch {branch!r} (it has: {', '.join(has) or 'none'}); "
            "pass --branch with one of those, or leave --branch out to track its default"
        )

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
    proc = git(cwd, *args, text=True, timeout=120, new_session=True)
    if proc.returncode != 0 and check:
        # Git's whole message (its first lines often say why), credentials in URLs masked.
        lines = [_CREDENTIALS.sub(r"\1***@", line) for line in proc.stderr.strip().splitlines()]
        message = " / ".join(lines[-6:]) or f"exit code {proc.returncode}"
        raise ReconcilerError(f"git {args[0]}: {message}")
    return proc.stdout.strip()


class Daemon:
    """Runs the loop over its environments; ``stop()`` (or a signal) ends it after the step.

    ``environments`` names them, or ``["*"]`` for every ``targets/*.yaml`` of the tracked
    revision (looked for again at each step, so a new environment is picked up).
    """

    def __init__(
        self,
        repo_root: Path,
        environments: str | list[str],
        *,
        interval: float = 30.0,
        listen: str = "127.0.0.1:9464",
        branch: str | None = None,
        jitter: float = 0.1,
        clock: Callable[[], float] = time.time,
        verify: bool = False,
        state: str | None = None,
        max_environments: int | None = None,
    ) -> None:
        self.repo_root = repo_root.resolve()
        self.wanted = [environments] if isinstance(environments, str) else list(environments)
        self.interval = interval
        self.jitter = jitter
        self.clock = clock
        self.verify = verify  #: --verify-signatures: only signed revisions are applied
        self.state = state  #: --state URL (None: $RECONCILER_STATE_URL or the embedded file)
        self.max_environments = max_environments
        self.tracker = Tracker(self.repo_root, branch)
        self.families = Families()
        self.runners: dict[str, Runner] = {}
        self.server = StatusServer(
            listen,
            metrics=self.families.render,
            status=self.status,
            alive=self.alive,
            ready=self.ready,
            page=self.page,
            roles=self.roles,
        )
        self._stop = Stop()  #: set by SIGTERM/SIGINT: never a lock in a signal handler
        self._heartbeat = time.monotonic()
        self._failures = 0  #: failed ticks in a row (git, the store), before any environment
        self._store: OwnedStore | None = None  #: the one handle on the store (reopens it)
        for name in self.wanted:  # named ones answer "starting" before their first audit
            if name != "*":
                self._runner(name)

    # -- what the server reads ---------------------------------------------------------------

    @property
    def environment(self) -> str:
        """The one environment of a single-environment daemon (the common case)."""
        return self.wanted[0]

    def _single(self) -> Runner | None:
        runners = list(self.runners.values())
        return runners[0] if len(runners) == 1 and "*" not in self.wanted else None

    def status(self, environment: str | None = None) -> dict[str, Any] | None:
        """One environment's document; for several, all of them by name. An environment this
        daemon does not watch is a :class:`LookupError` (``/status/<name>`` answers 404)."""
        if environment is not None:
            runner = self.runners.get(environment)
            if runner is None:
                raise LookupError(environment)
            return runner.status
        single = self._single()
        if single is not None:
            return single.status
        documents = {name: r.status for name, r in sorted(self.runners.items())}
        if not documents or all(d is None for d in documents.values()):
            return None
        return {
            "environments": documents,
            "daemon": {"leading": self.leading(), "interval_seconds": self.interval},
        }

    def leading(self) -> list[str]:
        return sorted(name for name, r in self.runners.items() if r.leading)

    def alive(self) -> bool:
        """The loop has ticked recently (a wedged loop turns /healthz red)."""
        return time.monotonic() - self._heartbeat < max(3 * self.interval, 60.0)

    def ready(self) -> bool:
        """Every environment published an audit, and none failed its last 3 steps."""
        runners = list(self.runners.values())
        return bool(runners) and self._failures < 3 and all(r.ready for r in runners)

    def roles(self) -> str:
        """``/readyz``'s words: which environments this daemon leads and follows."""
        lead = [n for n, r in sorted(self.runners.items()) if r.role == "leader"]
        follow = [n for n, r in sorted(self.runners.items()) if r.role == "follower"]
        return f"leader of {', '.join(lead) or 'none'}; follower of {', '.join(follow) or 'none'}"

    def page(self, path: str, query: dict[str, str]) -> tuple[int, bytes, dict[str, str]]:
        """The on-call page: the environment's, or for several, one per environment."""
        from ..page.site import environments_index, not_found

        single = self._single()
        if single is not None:
            return single.page.respond(path, query)
        prefix, _, rest = path.partition("/environments/")[2].partition("/")
        runner = self.runners.get(prefix) if path.startswith("/environments/") else None
        if runner is not None:
            return runner.page.respond("/" + rest, query)
        if path == "/":
            return environments_index(
                [(n, r.role, r.status) for n, r in sorted(self.runners.items())]
            )
        return not_found(path)

    def stop(self, *_: object) -> None:
        self._stop.set()

    # -- the loop ----------------------------------------------------------------------------

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        self.server.start()
        log(
            "started",
            environment=",".join(self.wanted),
            listen=self.server.url,
            tracking=self.tracker.tracking,
        )
        try:
            while not self._stop.is_set():
                self._heartbeat = time.monotonic()
                self._stop.wait(max(self._tick(), 0.05))
        finally:
            self.server.stop()
            for runner in self.runners.values():
                runner.stop()
            if self._store is not None:
                self._store.close()
            log("stopped", environment=",".join(self.wanted))
            self._stop.close()
        return 0

    def _tick(self) -> float:
        """One step of every environment; the seconds to wait before the next one."""
        try:
            fetched = self.tracker.update()
            if not fetched and not self.tracker.ready:  # nothing to audit yet: retried
                raise ReconcilerError(f"no desired state yet: {self.tracker.fetch_error}")
            store = self._open_store()
            names = self._environments()
        except Exception as exc:
            return self._failed(exc, None)
        if not fetched:
            log(
                "git_fetch_failed",
                error=self.tracker.fetch_error,
                keeping="last known desired revision",
            )
        self._failures = 0
        worst = 0
        for name in names:
            runner = self._runner(name)
            runner.metrics.set_git_fetch_ok(fetched)
            may_lead = (
                runner.leading
                or self.max_environments is None
                or (len(self.leading()) < self.max_environments)
            )
            try:
                runner.step(
                    self.tracker.root,
                    store,
                    may_lead=may_lead,
                    fetch_error=self.tracker.fetch_error,
                )
            except Exception as exc:
                runner.failed()
                self._failed(exc, runner)
                worst = max(worst, runner.failures)
            if self._stop.is_set():
                break
        if worst:
            return min(self.interval, RETRY_FIRST * 2 ** (worst - 1))
        return self.interval * (1 + random.uniform(-self.jitter, self.jitter))

    def _failed(self, exc: BaseException, runner: Runner | None) -> float:
        """Log a failure with its traceback (unless it is the tool's own, one-line error)."""
        if self._stop.is_set():  # a signal to the process group also ends our git children
            log("step_interrupted", reason="shutting down")
            return 0.0
        if runner is None:
            self._failures += 1
            for each in self.runners.values():
                each.failed()
        known = isinstance(exc, ReconcilerError)  # the tool's own: its message says it all
        failures = runner.failures if runner is not None else self._failures
        log(
            "step_failed",
            environment=runner.environment if runner else ",".join(self.wanted),
            error=str(exc) if known else f"{type(exc).__name__}: {exc}",
            failures_in_a_row=failures,
            **({} if known else {"traceback": traceback.format_exc()}),
        )
        if isinstance(exc, StateUnavailable) and self._store is not None:
            self._store.drop()  # opened again (reconnected) at the next step
        return min(self.interval, RETRY_FIRST * 2 ** (failures - 1))

    def _open_store(self) -> OwnedStore:
        """The daemon's store handle; every runner keeps it, never the store behind it."""
        from ..state import open_store

        if self._store is None:
            self._store = OwnedStore(lambda: open_store(self.repo_root, self.state))
        self._store.current()  # opened (again) now: a store that cannot be is this tick's error
        return self._store

    def _environments(self) -> list[str]:
        if "*" not in self.wanted:
            return self.wanted
        from ..config.inventory import environments

        return environments(self.tracker.root)

    def _runner(self, name: str) -> Runner:
        runner = self.runners.get(name)
        if runner is None:
            multi = "*" in self.wanted or len(self.wanted) > 1
            runner = self.runners[name] = Runner(
                name,
                families=self.families,
                interval=self.interval,
                clock=self.clock,
                files_root=self.repo_root,
                verify=self.verify,
                page_base=f"/environments/{name}" if multi else "",
            )
            runner.metrics.set_interval(self.interval)
        return runner
