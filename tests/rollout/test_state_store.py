"""The SQLite state store: versioned schema, transactions, skew episodes, quarantines."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from reconciler.errors import ReconcilerError
from reconciler.model.inventory import RolloutPolicy
from reconciler.model.rollout import Quarantine
from reconciler.rollout import engine
from reconciler.state.sqlite import SCHEMA_VERSION, SqliteStore


def _store(tmp_path: Path) -> SqliteStore:
    return SqliteStore(tmp_path / "state.db")


def test_schema_is_versioned_and_wal(tmp_path: Path) -> None:
    store = _store(tmp_path)
    assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    store.close()
    SqliteStore(tmp_path / "state.db").close()  # reopening migrates nothing


def test_newer_schema_is_refused_clearly(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "state.db")
    db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(ReconcilerError, match="newer than this reconciler"):
        _store(tmp_path)


def test_rollout_round_trip_with_events(tmp_path: Path) -> None:
    store = _store(tmp_path)
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


def test_skew_episodes_open_and_resolve(tmp_path: Path) -> None:
    store = _store(tmp_path)
    changes = store.observe_targets(
        "p", "b", {"a": ("lagging", "v46"), "c": ("in_sync", "v47")}, 100.0
    )
    assert changes == [("a", None, "lagging"), ("c", None, "in_sync")]
    assert store.skew_since("p", "b", "a") == 100.0
    assert store.observe_targets("p", "b", {"a": ("lagging", "v46")}, 200.0) == []
    assert store.skew_since("p", "b", "a") == 100.0  # the episode began when first seen
    assert store.observe_targets("p", "b", {"a": ("in_sync", "v47")}, 300.0) == [
        ("a", "lagging", "in_sync")
    ]
    assert store.skew_since("p", "b", "a") is None


def test_quarantine_until_lifted(tmp_path: Path) -> None:
    store = _store(tmp_path)
    store.quarantine(Quarantine("p", "b", "sha256:bad", "v47", 1.0, "alice"))
    held = store.quarantined("p", "b", "sha256:bad")
    assert held is not None and held.by == "alice"
    assert store.quarantined("p", "b", "sha256:other") is None
    assert store.lift_quarantine("p", "b", "bob", 2.0) == 1
    assert store.quarantined("p", "b", "sha256:bad") is None
    kinds = [e["kind"] for e in store.events("p")]
    assert kinds == ["quarantined", "quarantine_lifted"]


def test_a_failed_transaction_leaves_nothing(tmp_path: Path) -> None:
    store = _store(tmp_path)
    with pytest.raises(sqlite3.Error), store._tx():
        store._event("p", "half", {}, 1.0)
        store.db.execute("INSERT INTO no_such_table VALUES (1)")
    assert store.events("p") == []
