"""The daemon's store is one handle that reopens it (issue "Hardening, round 3"): a write lock
another process holds on the SQLite file past the busy timeout fails steps, never the daemon
for good; and ``state reset`` never makes two writers of one environment."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reconciler.daemon.loop import Daemon
from reconciler.state import open_store
from reconciler.state import sqlite as sqlite_store
from reconciler.state.interface import Deposed, StateUnavailable
from reconciler.state.owned import OwnedStore
from tests.daemon.support import DaemonProcess, Remote, one_file_target
from tests.support.cli import reconciler
from tests.support.configrepo import ConfigRepo, inventory

#: The lock holder: another process, holding the file's write lock until its stdin closes.
LOCKER = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.readline()
"""


@pytest.fixture
def repo(tmp_path: Path) -> ConfigRepo:
    return one_file_target(tmp_path / "config")


def test_a_lock_held_past_the_busy_timeout_fails_steps_then_the_daemon_is_ready_again(
    repo: ConfigRepo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The campaign held the lock 14 s against a 10 s busy timeout; the same, scaled down.
    monkeypatch.setattr(sqlite_store, "BUSY_TIMEOUT", 0.2)
    interval = 0.5
    daemon = Daemon(repo.root, "production", interval=interval, listen="127.0.0.1:0")
    db = repo.root / ".reconciler" / "state.db"
    try:
        daemon._tick()
        assert daemon.ready() and daemon.roles().startswith("leader of production")
        locker = subprocess.Popen(
            [sys.executable, "-c", LOCKER, str(db)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert locker.stdout is not None and locker.stdout.readline() == "locked\n"
        locked_at = time.monotonic()
        ticks = 0
        while ticks < 4 or time.monotonic() - locked_at < 3 * interval:  # past the lease's TTL
            assert daemon._tick() <= interval, "a failed step is retried within an interval"
            ticks += 1
        assert not daemon.ready(), "steps failed while the file was locked"
        # Cut off from the store longer than the TTL: it may no longer hold the lease.
        assert daemon.roles().startswith("leader of none"), daemon.roles()
        metrics = daemon.families.render()[0].decode()
        assert 'reconciler_leader{environment="production"} 0.0' in metrics
        assert locker.stdin is not None
        locker.stdin.close()
        assert locker.wait(10) == 0
        ticks = 0
        while not daemon.ready() and ticks < 2:  # each tick waits at most one interval
            daemon._tick()
            ticks += 1
        assert daemon.ready(), "ready again within 2 intervals of the lock's release"
        assert daemon.roles().startswith("leader of production"), "and still the leader"
        daemon._tick()
        assert daemon.ready()
    finally:
        for runner in daemon.runners.values():
            runner.stop()
    logged = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    errors = [r["error"] for r in logged if r["event"] == "step_failed"]
    assert errors and all("locked" in e for e in errors), errors
    assert not any("closed database" in e for e in errors)


def _shared_fleet(tmp_path: Path) -> tuple[Remote, Path, Path]:
    remote = Remote(tmp_path)
    author = remote.author
    author.bundle()
    source = {"type": "file", "path": "fleet/{bundle}.json"}
    author.write("targets/production.yaml", inventory([{"name": "a", "source": source}]))
    author.write(".gitignore", "fleet/\n")
    author.commit("v1")
    remote.push()
    clones = []
    for name in ("one", "two"):
        subprocess.run(["git", "clone", "-q", str(remote.origin), str(tmp_path / name)], check=True)
        (tmp_path / name / "fleet").mkdir()
        clones.append(tmp_path / name)
    return remote, clones[0], clones[1]


def _leaders(*daemons: DaemonProcess) -> list[int]:
    """Which of ``daemons`` say on /readyz that they lead production."""
    said = []
    for i, daemon in enumerate(daemons):
        _, body = daemon.get("/readyz")
        if "leader of production" in body.decode():
            said.append(i)
    return said


def test_state_reset_refuses_a_live_lease_and_forced_never_makes_two_leaders(
    tmp_path: Path,
) -> None:
    _, one_repo, two_repo = _shared_fleet(tmp_path)
    db = tmp_path / "shared" / "state.db"
    url = f"sqlite:///{db}"
    args = ("--state", url, "--interval", "0.2s")
    one = DaemonProcess(one_repo, *args, session=True)
    two = None
    try:
        one.wait_until(lambda s: s["daemon"]["role"] == "leader", what="one leads")
        two = DaemonProcess(two_repo, *args, session=True)
        two.wait_until(lambda s: s["daemon"]["role"] == "follower", what="two follows")

        refused = reconciler("--repo", one_repo, "--state", url, "state", "reset", "--yes")
        assert refused.code == 1, refused.out + refused.err
        lines = refused.err.strip().splitlines()
        assert len(lines) == 1 and str(db) in lines[0] and "--force" in lines[0], lines
        assert "production" in lines[0] and "daemon by" in lines[0]
        assert not list(db.parent.glob("state.db.broken-*")), "nothing changed"

        forced = reconciler(
            "--repo", one_repo, "--state", url, "state", "reset", "--yes", "--force"
        )
        assert forced.code == 0, forced.err
        assert "live lease(s) are kept" in forced.out, forced.out
        seen: set[int] = set()
        deadline = time.monotonic() + 4.0  # 20 intervals across the reset
        while time.monotonic() < deadline:
            leaders = _leaders(one, two)
            assert len(leaders) <= 1, f"two leaders at once: {leaders}"
            seen.update(leaders)
            time.sleep(0.02)
        assert seen == {0}, "the leader before the reset leads after it, alone"
        old = next(db.parent.glob("state.db.broken-*"))
        with sqlite3.connect(old) as copy:
            assert copy.execute("SELECT count(*) FROM rollouts").fetchone()[0] == 1
        copy.close()
    finally:
        for daemon in (one, two):
            if daemon is not None:
                daemon.terminate()


def test_a_writer_whose_store_file_was_replaced_writes_nothing_more_to_it(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = OwnedStore(lambda: open_store(tmp_path, f"sqlite:///{path}"))
    store.current()
    lease = store.acquire("production", "daemon", 30.0)
    store.fence(lease)
    for suffix in ("", "-wal", "-shm"):  # what a reset of an unreadable store does
        os.rename(f"{path}{suffix}", f"{path}.broken{suffix}")
    open_store(tmp_path, f"sqlite:///{path}").close()
    with pytest.raises(StateUnavailable, match="replaced"):
        store.renew(lease)
    with pytest.raises(Deposed):  # the new file: fenced, its lease is not ours
        store.record_event("production", "test", {}, 1.0)
    assert store.events("production") == []
