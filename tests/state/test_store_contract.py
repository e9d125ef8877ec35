"""The state store contract, run against SQLite and PostgreSQL alike: versioned schema,
transactions, rollouts, target statuses, quarantines, first sightings, evals, and one writer per
environment (a lease whose fencing token grows at every change of holder)."""

from __future__ import annotations

import contextlib
import threading
import time
from pathlib import Path

import pytest

from reconciler.model.inventory import RolloutPolicy
from reconciler.model.rollout import Quarantine
from reconciler.rollout import engine
from reconciler.state import Deposed, EvalRecord, Lease, LeaseHeld, StateStore, open_store
from reconciler.state import postgres as postgres_store
from tests.servers.postgres import Postgres

from .conftest import Opener


def test_rollout_round_trip_with_events(store: StateStore) -> None:
    rollout = engine.start(
        environment="production",
        bundle="b",
        from_revision=None,
        to_revision="abc",
        digest="sha256:1",
        targets=["a", "b"],
        policy=RolloutPolicy(),
        now=10.0,
    )
    store.save_rollout(rollout, 10.0, [("rollout_started", {"to": "abc"})])
    assert store.load_rollout("production", "b") == rollout
    assert store.load_rollout("staging", "b") is None
    assert [e["kind"] for e in store.events("production")] == ["rollout_started"]
    assert store.environments() == ["production"]


def test_status_changes_are_returned_and_logged_once(store: StateStore) -> None:
    changes = store.observe_targets(
        "p", "b", {"a": ("lagging", "v46"), "c": ("in_sync", "v47")}, 100.0
    )
    assert changes == [("a", None, "lagging"), ("c", None, "in_sync")]
    assert store.observe_targets("p", "b", {"a": ("lagging", "v46")}, 200.0) == []
    assert store.observe_targets("p", "b", {"a": ("in_sync", "v47")}, 300.0) == [
        ("a", "lagging", "in_sync")
    ]
    logged = [
        (e["at"], e["data"]["target"], e["data"]["was"], e["data"]["status"])
        for e in store.events("p")
        if e["kind"] == "target_status"
    ]
    assert logged == [
        (100.0, "a", None, "lagging"),
        (100.0, "c", None, "in_sync"),
        (300.0, "a", "lagging", "in_sync"),
    ]


def test_no_skew_episodes_table(store: StateStore) -> None:
    """Dropped by a migration: written every step, read by nobody (the statuses and the event
    log say since when; a skew's age comes from the desired revision's arrival)."""
    tables = store.sql.execute(  # type: ignore[attr-defined]
        "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        if type(store).__name__ == "PostgresStore"
        else "SELECT name FROM sqlite_master WHERE type='table'"
    ).fetchall()
    names = {row[0] for row in tables}
    assert "target_status" in names and "skew_episodes" not in names


def test_a_store_with_skew_episodes_is_migrated(tmp_path: Path) -> None:
    import sqlite3

    from reconciler.state import sqlite as sqlite_store

    path = tmp_path / "state.db"
    with sqlite3.connect(path) as db:
        for script in sqlite_store.MIGRATIONS[:4]:
            db.executescript(script)
        db.execute(
            "INSERT INTO skew_episodes (environment, bundle, target, status, first_seen) "
            "VALUES ('p', 'b', 'a', 'drifted', 1.0)"
        )
        db.execute("PRAGMA user_version=4")
    db.close()
    store = open_store(tmp_path, f"sqlite:///{path}")
    try:
        assert store.observe_targets("p", "b", {"a": ("drifted", "v1")}, 2.0) == [
            ("a", None, "drifted")
        ]
    finally:
        store.close()
    with sqlite3.connect(path) as db:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        left = db.execute("SELECT name FROM sqlite_master WHERE name LIKE 'skew%'").fetchall()
    db.close()
    assert (version, left) == (sqlite_store.SCHEMA_VERSION, [])


def test_quarantine_until_lifted(store: StateStore) -> None:
    store.quarantine(Quarantine("p", "b", "sha256:bad", "v47", 1.0, "alice", "v46"))
    held = store.quarantined("p", "b", "sha256:bad")
    assert held == Quarantine("p", "b", "sha256:bad", "v47", 1.0, "alice", "v46")
    assert store.quarantined("p", "b", "sha256:other") is None
    assert store.lift_quarantine("p", "b", "bob", 2.0) == 1
    assert store.quarantined("p", "b", "sha256:bad") is None
    kinds = [e["kind"] for e in store.events("p")]
    assert kinds == ["quarantined", "quarantine_lifted"]


def test_first_sightings_keep_the_first(store: StateStore) -> None:
    store.saw_revision("p", "abc", 100.0)
    store.saw_revision("p", "abc", 200.0)
    store.saw_revision("q", "abc", 300.0)
    assert store.first_seen("p") == {"abc": 100.0}


def test_eval_records_by_digest(store: StateStore) -> None:
    store.record_eval(EvalRecord("p", "sha256:x", "failed", 1.0, "ci", None))
    store.record_eval(EvalRecord("p", "sha256:x", "passed", 2.0, "ci", "https://evals/42"))
    assert [(e.result, e.report) for e in store.evals("p", "sha256:x")] == [
        ("passed", "https://evals/42"),
        ("failed", None),
    ]
    assert store.evals("p", "sha256:y") == []


def test_alerts_are_kept_in_order(store: StateStore) -> None:
    store.record_alert("p", "b", "stalled", "firing", 1.0, {"text": "one"})
    store.record_alert("p", "b", "stalled", "resolved", 2.0, {"text": "two"})
    assert [(a["state"], a["payload"]["text"]) for a in store.alerts("p")] == [
        ("firing", "one"),
        ("resolved", "two"),
    ]


# --- one writer per environment ---------------------------------------------------------------


def test_a_lease_is_taken_held_renewed_and_released(backend: tuple[str, Opener]) -> None:
    _, connect = backend
    one, two = connect(), connect()
    lease = one.acquire("p", "converge by alice", ttl=30.0)
    assert lease.token == 1
    with pytest.raises(LeaseHeld, match="converge by alice"):
        two.acquire("p", "converge by bob", ttl=30.0)
    assert one.renew(lease) == 30.0
    assert one.acquire("p", "converge by alice", ttl=30.0).token == 1, "same holder: same token"
    info = two.lease("p")
    assert info is not None and info.holder == "converge by alice" and 0 < info.seconds_left <= 30
    one.release(lease)
    taken = two.acquire("p", "converge by bob", ttl=30.0)
    assert taken.token == 2, "a new holder, a new token"
    assert two.acquire("q", "daemon", ttl=30.0).token == 1, "leases are per environment"


def test_an_expired_lease_is_free_for_the_next_holder(backend: tuple[str, Opener]) -> None:
    _, connect = backend
    one, two = connect(), connect()
    old = one.acquire("p", "daemon a", ttl=0.01)
    import time

    time.sleep(0.05)  # the database's clock must move past the expiry; no event to wait for
    new = two.acquire("p", "daemon b", ttl=30.0)
    assert new.token == old.token + 1
    with pytest.raises(Deposed):
        one.renew(old)


def test_pre_emption_fences_every_write_of_the_old_holder(backend: tuple[str, Opener]) -> None:
    _, connect = backend
    writer, rollback = connect(), connect()
    lease = writer.acquire("p", "converge", ttl=30.0)
    writer.fence(lease)
    writer.record_event("p", "apply", {"target": "a"}, 1.0)
    taken = rollback.acquire("p", "rollback", ttl=30.0, preempt=True)
    assert taken.token == lease.token + 1
    info = rollback.lease("p")
    assert info is not None and info.previous_token == lease.token and not info.previous_done
    with pytest.raises(Deposed, match="pre-empted by rollback"):
        writer.record_event("p", "apply", {"target": "b"}, 2.0)
    with pytest.raises(Deposed):
        writer.save_rollout(
            engine.start(
                environment="p",
                bundle="b",
                from_revision=None,
                to_revision="x",
                digest="sha256:1",
                targets=["a"],
                policy=RolloutPolicy(),
                now=1.0,
            ),
            2.0,
        )
    writer.record_event("q", "other environment", {}, 3.0)  # another environment: not fenced
    writer.release(lease)  # the pre-empted writer says it stopped
    info = rollback.lease("p")
    assert info is not None and info.previous_done
    assert [e["data"] for e in rollback.events("p")] == [{"target": "a"}]


def test_a_transaction_that_fails_leaves_nothing(backend: tuple[str, Opener]) -> None:
    _, connect = backend
    store = connect()
    lease = store.acquire("p", "converge", ttl=30.0)
    store.fence(lease)
    connect().acquire("p", "rollback", ttl=30.0, preempt=True)
    with pytest.raises(Deposed):
        store.quarantine(Quarantine("p", "b", "sha256:bad", "v47", 1.0, "alice"))
    assert connect().quarantines("p") == []
    assert connect().events("p") == []


def test_a_writer_frozen_inside_a_transaction_does_not_hold_the_lease_forever(
    postgres: Postgres, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A leader stopped (SIGSTOP, a VM pause) in the middle of a fenced write holds the lease
    row's lock. Once its lease has expired, the follower must still take over: PostgreSQL ends
    the idle transaction, and the follower's acquire waits for that, not for ever."""
    monkeypatch.setattr(postgres_store, "IDLE_IN_TRANSACTION_MS", 1_000)
    monkeypatch.setattr(postgres_store, "LOCK_TIMEOUT_MS", 5_000)
    url = postgres.create_database("state_frozen_in_transaction")
    leader, follower = open_store(tmp_path, url), open_store(tmp_path, url)
    try:
        lease = leader.acquire("production", "leader", 0.2)
        leader.fence(lease)
        frozen = leader._write("production")  # what a step does before it writes state
        frozen.__enter__()  # ... and there the process stops, the row locked FOR SHARE
        time.sleep(0.3)  # past the lease's TTL (on the database's clock)
        taken: list[Lease] = []
        acquiring = threading.Thread(
            target=lambda: taken.append(follower.acquire("production", "follower", 10.0))
        )
        acquiring.start()
        acquiring.join(timeout=8.0)
        if acquiring.is_alive():  # blocked behind the frozen writer: unfreeze it, then fail
            leader.close()
            acquiring.join()
            pytest.fail("the follower waited for the frozen writer's lock for over 8 s")
        assert taken and taken[0].token == lease.token + 1
        # The frozen writer wakes: its session was ended; it reconnects and is fenced out.
        with contextlib.suppress(Exception):
            frozen.__exit__(None, None, None)
        with pytest.raises(Deposed):
            leader.record_event("production", "late", {}, at=1.0)
    finally:
        leader.close()
        follower.close()
