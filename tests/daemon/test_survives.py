"""The daemon never dies of one bad step (design §8): any exception is logged with its traceback,
counted, retried with backoff; /readyz turns 503 after 3 failed steps in a row; a signal to the
whole process group ends it with exit 0 and no "internal error"."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest

from reconciler.daemon.loop import Daemon
from tests.daemon.support import DaemonProcess, Remote, one_file_target
from tests.support.configrepo import ConfigRepo, inventory


@pytest.fixture
def repo(tmp_path: Path) -> ConfigRepo:
    return one_file_target(tmp_path / "config")


def test_a_step_that_raises_is_logged_counted_retried_and_turns_readyz_red(
    repo: ConfigRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    daemon = Daemon(repo.root, "production", interval=30.0, listen="127.0.0.1:0")
    try:
        assert daemon._tick() > 20.0  # a good step waits about one interval
        assert daemon.ready()
        runner = daemon.runners["production"]
        real_step = runner.step

        def broken(*args: object, **kwargs: object) -> None:
            raise KeyError("a bug nobody foresaw")

        runner.step = broken  # type: ignore[method-assign]
        waits = [daemon._tick() for _ in range(3)]
        assert waits == [1.0, 2.0, 4.0], "retried with backoff, sooner than an interval"
        assert not daemon.ready(), "/readyz answers 503 after 3 failed steps in a row"
        assert daemon.alive(), "/healthz stays the loop's liveness"
        metrics = daemon.families.render()[0].decode()
        assert 'reconciler_step_errors_total{environment="production"} 3.0' in metrics
        logged = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
        failed = [r for r in logged if r["event"] == "step_failed"]
        assert len(failed) == 3
        assert "KeyError" in failed[0]["error"] and "Traceback" in failed[0]["traceback"]
        runner.step = real_step  # type: ignore[method-assign]
        daemon._tick()
        assert daemon.ready(), "one good step makes it ready again"
    finally:
        for runner in daemon.runners.values():
            runner.stop()


def test_a_fresh_daemon_exports_zero_step_errors(repo: ConfigRepo) -> None:
    daemon = Daemon(repo.root, "production", interval=5.0, listen="127.0.0.1:0")
    daemon._tick()
    text = daemon.families.render()[0].decode()
    assert 'reconciler_step_errors_total{environment="production"} 0.0' in text
    assert 'reconciler_interval_seconds{environment="production"} 5.0' in text
    assert 'reconciler_leader{environment="production"} 1.0' in text
    daemon.runners["production"].stop()


def test_sigterm_to_the_whole_process_group_exits_0(tmp_path: Path) -> None:
    remote = Remote(tmp_path)
    author = remote.author
    author.bundle()
    source = {"type": "file", "path": "fleet/a/{bundle}.json"}
    author.write("targets/production.yaml", inventory([{"name": "a", "source": source}]))
    author.write(".gitignore", "fleet/\n")
    author.commit("v1")
    remote.push()
    user = remote.clone_user()
    (user / "fleet" / "a").mkdir(parents=True)
    seed = random.randrange(1 << 30)
    chance = random.Random(seed)
    for attempt in range(4):  # git fetches run every step: the signal lands mid-step or not
        daemon = DaemonProcess(user, "--interval", "0.01s", session=True)
        daemon.wait_until(lambda s: True, what="the first audit")
        time.sleep(chance.uniform(0.0, 0.3))
        os.killpg(daemon.proc.pid, signal.SIGTERM)
        code = daemon.finish()
        text = json.dumps(daemon.lines)
        assert code == 0, (seed, attempt, daemon.lines[-5:])
        assert "internal error" not in text, (seed, attempt)
        assert daemon.lines[-1]["event"] == "stopped", (seed, attempt, daemon.lines[-3:])


def test_sigterm_at_interval_0s_never_hangs(tmp_path: Path) -> None:
    """At ``--interval 0s`` the loop waits thousands of times a second; a SIGTERM landing while
    it held the wait's lock (threading.Event) deadlocked the handler with its own thread — once
    in 47 tries. Repeated a bounded number of times, each must exit 0 promptly."""
    repo = one_file_target(tmp_path / "config")
    chance = random.Random(47)
    for attempt in range(8):
        daemon = DaemonProcess(repo.root, "--interval", "0s", session=True)
        daemon.wait_until(lambda s: True, what="the first audit")
        time.sleep(chance.uniform(0.0, 0.2))
        os.killpg(daemon.proc.pid, signal.SIGTERM)
        try:
            code = daemon.finish(timeout=15)
        except subprocess.TimeoutExpired:
            daemon.kill()
            raise AssertionError(f"attempt {attempt}: SIGTERM did not end the daemon") from None
        assert code == 0, (attempt, daemon.lines[-3:])
        assert daemon.lines[-1]["event"] == "stopped", (attempt, daemon.lines[-3:])


def test_a_stop_from_a_signal_handler_takes_no_lock() -> None:
    from reconciler.daemon.stopping import Stop

    stop = Stop()
    previous = signal.signal(signal.SIGALRM, stop.set)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.05)
        started = time.monotonic()
        assert stop.wait(10.0), "woken by the signal"
        assert time.monotonic() - started < 2.0
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        stop.close()
