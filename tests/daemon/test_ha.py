"""Several daemons on one PostgreSQL store (issue "Two daemons or more per fleet"): one leader per
environment, fenced, so no daemon's death stalls a rollout — against the session's real
PostgreSQL, with HTTP targets that remember every write."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.daemon.support import DaemonProcess, Remote, rollout_of
from tests.servers.docstore import DocStore, running_docstore
from tests.servers.postgres import Postgres, running_postgres
from tests.support.configrepo import inventory

INTERVAL = 0.3
TTL = 3 * INTERVAL
#: Slack for a step on a busy two-core machine (an audit, a lease write, a few HTTP calls).
SLACK = 4.0
TARGETS = ("canary", "t1", "t2", "t3")


@pytest.fixture
def store() -> Iterator[DocStore]:
    with running_docstore() as server:
        yield server


def _fleet(tmp_path: Path, store: DocStore, envs: tuple[str, ...] = ("production",)) -> Remote:
    remote = Remote(tmp_path)
    author = remote.author
    author.bundle()
    for env in envs:
        targets = [
            {"name": n, "source": {"type": "http", "url": f"{store.url}/{env}/{n}/{{bundle}}.json"}}
            for n in (TARGETS if env == "production" else ("only",))
        ]
        waves = [
            {"name": "canary", "targets": ["canary"], "bake": "3s"},
            {"name": "rest", "targets": ["*"]},
        ]
        text = inventory(targets, rollout={"waves": waves, "progress_deadline": "2m"})
        author.write(f"targets/{env}.yaml", text.replace('"production"', f'"{env}"', 1))
    author.commit("v1")
    remote.push()
    return remote


def _clone(remote: Remote, path: Path) -> Path:
    subprocess.run(["git", "clone", "-q", str(remote.origin), str(path)], check=True)
    return path


def _daemon(repo: Path, url: str, *args: str, envs: tuple[str, ...] = ("production",)) -> Any:
    return DaemonProcess(
        repo, "--state", url, "--interval", f"{INTERVAL}s", *args, envs=envs, session=True
    )


def _role(status: dict[str, Any]) -> str:
    return str(status["daemon"]["role"])


def _complete_at(revision: str) -> Any:
    def check(status: dict[str, Any]) -> bool:
        r = rollout_of(status)
        done = status["summary"]["in_sync"] == status["summary"]["targets"]
        return r.get("to_revision") == revision and r.get("phase") == "complete" and done

    return check


def _push_v2(remote: Remote) -> str:
    remote.author.bundle(prompt="v2: every region, once\n")
    remote.author.commit("v2")
    return remote.push()


def _leader_and_follower(tmp_path: Path, store: DocStore, url: str) -> tuple[Remote, Any, Any]:
    remote = _fleet(tmp_path, store)
    v1 = remote.author.git("rev-parse", "HEAD").strip()
    one = _daemon(_clone(remote, tmp_path / "one"), url)
    one.wait_until(lambda s: _role(s) == "leader" and _complete_at(v1)(s), what="v1 by one")
    two = _daemon(_clone(remote, tmp_path / "two"), url)
    two.wait_until(lambda s: _role(s) == "follower", what="two follows")
    return remote, one, two


def _once_each(store: DocStore, revision: str) -> dict[str, int]:
    return store.written(revision)


def test_a_killed_leader_is_replaced_and_the_rollout_finishes(
    tmp_path: Path, store: DocStore, postgres: Postgres
) -> None:
    url = postgres.create_database("ha_killed")
    remote, one, two = _leader_and_follower(tmp_path, store, url)
    try:
        v2 = _push_v2(remote)
        canary = "/production/canary/support-agent.json"
        store.wait(lambda s: s.revision(canary) == v2)  # the leader started the rollout
        one.kill()  # SIGKILL, mid-rollout: the canary baking, the rest not yet written
        killed = time.monotonic()
        two.wait_until(lambda s: _role(s) == "leader", timeout=30, what="two leads")
        took = time.monotonic() - killed
        assert took < TTL + INTERVAL + SLACK, took
        two.wait_until(_complete_at(v2), timeout=60, what="two finishes the rollout")
        written = _once_each(store, v2)
        assert written == {f"/production/{n}/support-agent.json": 1 for n in TARGETS}, written
        assert two.metric("reconciler_leader", environment="production") == 1.0
    finally:
        two.kill()


def test_a_frozen_leader_writes_nothing_when_it_wakes_and_steps_down(
    tmp_path: Path, store: DocStore, postgres: Postgres
) -> None:
    url = postgres.create_database("ha_frozen")
    remote, one, two = _leader_and_follower(tmp_path, store, url)
    try:
        v2 = _push_v2(remote)
        canary = "/production/canary/support-agent.json"
        store.wait(lambda s: s.revision(canary) == v2)
        os.kill(one.proc.pid, signal.SIGSTOP)  # frozen past its lease's TTL
        two.wait_until(lambda s: _role(s) == "leader", timeout=30, what="two leads")
        two.wait_until(_complete_at(v2), timeout=60, what="two finishes the rollout")
        writes_before = len(store.writes)
        os.kill(one.proc.pid, signal.SIGCONT)
        one.wait_until(lambda s: _role(s) == "follower", timeout=30, what="one steps down")
        two.wait_until(lambda s: _role(s) == "leader", timeout=10, what="two still leads")
        assert len(store.writes) == writes_before, "the woken leader wrote nothing"
        assert _once_each(store, v2) == {f"/production/{n}/support-agent.json": 1 for n in TARGETS}
        # its /status said follower: the log line saying so may still be in the pipe
        one.wait_for_lines(
            lambda r: (
                r.get("event") == "stepped_down"
                or (r.get("event") == "role" and r.get("role") == "follower")
            ),
            what="one stepped down",
        )
        with psycopg.connect(url) as db:
            holder = db.execute("SELECT holder FROM leases").fetchone()[0]
        assert f"pid {two.proc.pid}" in holder
    finally:
        one.kill()
        two.kill()


def test_six_environments_over_three_daemons_always_have_one_leader_each(
    tmp_path: Path, store: DocStore, postgres: Postgres
) -> None:
    url = postgres.create_database("ha_many")
    envs = tuple(f"env{i}" for i in range(1, 7))
    remote = _fleet(tmp_path, store, envs)
    daemons = []
    try:
        for number in range(3):  # one after another: the first two lead three each
            daemon = _daemon(
                _clone(remote, tmp_path / f"d{number}"), url, "--max-environments", "3", envs=("*",)
            )
            daemons.append(daemon)
            daemon.wait_until(lambda s: "environments" in s, what=f"daemon {number} up")
        _wait_for_leaders(url, envs, {d.proc.pid for d in daemons})
        counts = {d.proc.pid: _led(url, d.proc.pid) for d in daemons}
        victim = max(daemons, key=lambda d: counts[d.proc.pid])
        assert counts[victim.proc.pid] >= 1
        victim.kill()
        killed = time.monotonic()
        survivors = [d for d in daemons if d is not victim]
        _wait_for_leaders(url, envs, {d.proc.pid for d in survivors}, timeout=TTL + SLACK * 2)
        assert time.monotonic() - killed < TTL + INTERVAL + SLACK * 2
        for env in envs:  # exactly one leader, by the metrics of the daemons still up
            leaders = [d.metric("reconciler_leader", environment=env) for d in survivors]
            assert sum(x or 0.0 for x in leaders) == 1.0, (env, leaders)
    finally:
        for daemon in daemons:
            daemon.kill()


def _led(url: str, pid: int) -> int:
    with psycopg.connect(url) as db:
        rows = db.execute(
            "SELECT count(*) FROM leases WHERE holder LIKE %s "
            "AND expires_at > extract(epoch from clock_timestamp())",
            (f"%(pid {pid})",),
        ).fetchone()
    return int(rows[0])


def _wait_for_leaders(
    url: str, envs: tuple[str, ...], pids: set[int], timeout: float = 60.0
) -> None:
    """Until every environment's lease is live and held by one of ``pids``."""
    deadline = time.monotonic() + timeout
    last: list[Any] = []
    while time.monotonic() < deadline:
        with psycopg.connect(url) as db:
            last = db.execute(
                "SELECT environment, holder, expires_at > extract(epoch from clock_timestamp()) "
                "FROM leases ORDER BY environment"
            ).fetchall()
        held = {env: holder for env, holder, live in last if live}
        if set(held) >= set(envs) and all(
            any(f"(pid {pid})" in held[env] for pid in pids) for env in envs
        ):
            return
        time.sleep(0.1)
    raise AssertionError(f"not every environment has a live leader among {pids}: {last}")


def test_postgresql_down_no_crash_no_apply_then_the_rollout_resumes(
    tmp_path: Path, store: DocStore
) -> None:
    with running_postgres() as own:
        url = own.create_database("ha_down")
        remote = _fleet(tmp_path, store)
        v1 = remote.author.git("rev-parse", "HEAD").strip()
        daemon = _daemon(_clone(remote, tmp_path / "one"), url)
        try:
            daemon.wait_until(_complete_at(v1), what="v1")
            own.stop()
            v2 = _push_v2(remote)

            def step_failed(r: dict[str, Any]) -> bool:
                return r.get("event") == "step_failed"

            failed_before = len([r for r in daemon.lines if step_failed(r)])
            failed = daemon.wait_for_lines(step_failed, failed_before + 3, timeout=60)
            assert daemon.proc.poll() is None, "the daemon never dies of its store"
            assert _once_each(store, v2) == {}, "nothing is applied while the store is down"
            assert daemon.get("/readyz")[0] == 503
            assert "state store" in failed[-1]["error"] and "traceback" not in failed[-1]
            own.start()
            daemon.wait_until(_complete_at(v2), timeout=90, what="v2 once PostgreSQL is back")
            assert set(_once_each(store, v2).values()) == {1}
        finally:
            daemon.kill()
