"""The SQLite state store: one file, WAL, schema versioned with ``PRAGMA user_version``."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import ReconcilerError
from ..model.rollout import Quarantine, Rollout

#: Each entry moves the schema one version forward; a store is migrated on open.
MIGRATIONS: tuple[str, ...] = (
    # 1: rollouts, statuses, skew episodes, applies, alerts, quarantines, events
    """
CREATE TABLE rollouts (
    environment TEXT NOT NULL, bundle TEXT NOT NULL, state TEXT NOT NULL, updated_at REAL NOT NULL,
    PRIMARY KEY (environment, bundle));
CREATE TABLE target_status (
    environment TEXT NOT NULL, bundle TEXT NOT NULL, target TEXT NOT NULL,
    status TEXT NOT NULL, revision TEXT, since REAL NOT NULL, seen_at REAL NOT NULL,
    PRIMARY KEY (environment, bundle, target));
CREATE TABLE skew_episodes (
    id INTEGER PRIMARY KEY, environment TEXT NOT NULL, bundle TEXT NOT NULL,
    target TEXT NOT NULL, status TEXT NOT NULL, revision TEXT,
    first_seen REAL NOT NULL, resolved_at REAL);
CREATE INDEX skew_open ON skew_episodes (environment, bundle, target) WHERE resolved_at IS NULL;
CREATE TABLE applies (
    id INTEGER PRIMARY KEY, environment TEXT NOT NULL, bundle TEXT NOT NULL,
    target TEXT NOT NULL, revision TEXT NOT NULL, at REAL NOT NULL,
    outcome TEXT NOT NULL, error TEXT);
CREATE TABLE alerts (
    id INTEGER PRIMARY KEY, environment TEXT NOT NULL, bundle TEXT NOT NULL,
    condition TEXT NOT NULL, state TEXT NOT NULL, at REAL NOT NULL, payload TEXT NOT NULL);
CREATE TABLE quarantines (
    environment TEXT NOT NULL, bundle TEXT NOT NULL, digest TEXT NOT NULL,
    revision TEXT NOT NULL, at REAL NOT NULL, by TEXT NOT NULL, lifted_at REAL, lifted_by TEXT);
CREATE TABLE events (
    id INTEGER PRIMARY KEY, environment TEXT NOT NULL, at REAL NOT NULL, kind TEXT NOT NULL,
    data TEXT NOT NULL);
""",
    # 2: what a rollback put back; when each desired revision was first seen (the skew clock)
    """
ALTER TABLE quarantines ADD COLUMN to_revision TEXT;
CREATE TABLE revisions_seen (
    environment TEXT NOT NULL, revision TEXT NOT NULL, first_seen REAL NOT NULL,
    PRIMARY KEY (environment, revision));
""",
)
SCHEMA_VERSION = len(MIGRATIONS)

#: Statuses that open a skew episode (a target running something other than desired).
SKEWED = frozenset({"lagging", "drifted", "missing", "invalid", "unreachable"})


class SqliteStore:
    """A :class:`~reconciler.state.interface.StateStore` in one SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.db = sqlite3.connect(path, timeout=10.0, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise ReconcilerError(f"{path}: cannot open the state database: {exc}") from None

    def _migrate(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version == SCHEMA_VERSION:
            return
        if version > SCHEMA_VERSION:
            raise ReconcilerError(
                f"{self.path}: state schema {version} is newer than this reconciler "
                f"({SCHEMA_VERSION}); upgrade agent-reconciler"
            )
        with self._tx():
            for script in MIGRATIONS[version:]:
                for statement in script.split(";"):
                    if statement.strip():
                        self.db.execute(statement)
            self.db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def _tx(self) -> _Transaction:
        return _Transaction(self.db)

    def close(self) -> None:
        self.db.close()

    def load_rollout(self, environment: str, bundle: str) -> Rollout | None:
        row = self.db.execute(
            "SELECT state FROM rollouts WHERE environment=? AND bundle=?", (environment, bundle)
        ).fetchone()
        return Rollout.from_json(json.loads(row[0])) if row else None

    def save_rollout(
        self, rollout: Rollout, now: float, events: Sequence[tuple[str, Mapping[str, Any]]] = ()
    ) -> None:
        with self._tx():
            self.db.execute(
                "INSERT INTO rollouts VALUES (?,?,?,?) ON CONFLICT (environment, bundle) "
                "DO UPDATE SET state=excluded.state, updated_at=excluded.updated_at",
                (rollout.environment, rollout.bundle, json.dumps(rollout.to_json()), now),
            )
            for kind, data in events:
                self._event(rollout.environment, kind, data, now)

    def _event(self, environment: str, kind: str, data: Mapping[str, Any], at: float) -> None:
        self.db.execute(
            "INSERT INTO events (environment, at, kind, data) VALUES (?,?,?,?)",
            (environment, at, kind, json.dumps(data, sort_keys=True)),
        )

    def record_event(self, environment: str, kind: str, data: Mapping[str, Any], at: float) -> None:
        with self._tx():
            self._event(environment, kind, data, at)

    def record_applies(
        self,
        environment: str,
        bundle: str,
        revision: str,
        at: float,
        outcomes: Sequence[tuple[str, str, str | None]],
    ) -> None:
        """Record many apply attempts, ``(target, outcome, error)``, in one transaction."""
        with self._tx():
            self.db.executemany(
                "INSERT INTO applies (environment, bundle, target, revision, at, outcome, error) "
                "VALUES (?,?,?,?,?,?,?)",
                [(environment, bundle, t, revision, at, o, e) for t, o, e in outcomes],
            )

    def observe_targets(
        self, environment: str, bundle: str, seen: Mapping[str, tuple[str, str | None]], at: float
    ) -> list[tuple[str, str | None, str]]:
        """Track statuses with transition times, open/close skew episodes; return status changes
        as ``(target, old status or None, new status)``."""
        changes: list[tuple[str, str | None, str]] = []
        with self._tx():
            rows = self.db.execute(
                "SELECT target, status, revision FROM target_status "
                "WHERE environment=? AND bundle=?",
                (environment, bundle),
            ).fetchall()
            before = {target: (status, revision) for target, status, revision in rows}
            for target, (status, revision) in seen.items():
                old = before.get(target)
                if old == (status, revision):
                    self.db.execute(
                        "UPDATE target_status SET seen_at=? WHERE environment=? AND bundle=? "
                        "AND target=?",
                        (at, environment, bundle, target),
                    )
                    continue
                if old is None or old[0] != status:
                    changes.append((target, old[0] if old else None, status))
                self.db.execute(
                    "INSERT OR REPLACE INTO target_status VALUES (?,?,?,?,?,?,?)",
                    (environment, bundle, target, status, revision, at, at),
                )
                self.db.execute(
                    "UPDATE skew_episodes SET resolved_at=? WHERE environment=? AND bundle=? "
                    "AND target=? AND resolved_at IS NULL",
                    (at, environment, bundle, target),
                )
                if status in SKEWED:
                    self.db.execute(
                        "INSERT INTO skew_episodes (environment, bundle, target, status, "
                        "revision, first_seen) VALUES (?,?,?,?,?,?)",
                        (environment, bundle, target, status, revision, at),
                    )
                self._event(
                    environment,
                    "target_status",
                    {
                        "bundle": bundle,
                        "target": target,
                        "status": status,
                        "revision": revision,
                        "was": old[0] if old else None,
                    },
                    at,
                )
        return changes

    def skew_since(self, environment: str, bundle: str, target: str) -> float | None:
        """When the target's current skew episode began (None when it is not skewed)."""
        row = self.db.execute(
            "SELECT first_seen FROM skew_episodes WHERE environment=? AND bundle=? AND target=? "
            "AND resolved_at IS NULL ORDER BY id DESC LIMIT 1",
            (environment, bundle, target),
        ).fetchone()
        return row[0] if row else None

    def record_alert(
        self,
        environment: str,
        bundle: str,
        condition: str,
        state: str,
        at: float,
        payload: Mapping[str, Any],
    ) -> None:
        with self._tx():
            self.db.execute(
                "INSERT INTO alerts (environment, bundle, condition, state, at, payload) "
                "VALUES (?,?,?,?,?,?)",
                (environment, bundle, condition, state, at, json.dumps(payload, sort_keys=True)),
            )

    def alerts(self, environment: str) -> list[dict[str, Any]]:
        rows = self.db.execute(
            "SELECT bundle, condition, state, at, payload FROM alerts WHERE environment=? "
            "ORDER BY id",
            (environment,),
        ).fetchall()
        return [
            {"bundle": b, "condition": c, "state": s, "at": at, "payload": json.loads(p)}
            for b, c, s, at, p in rows
        ]

    def quarantine(self, entry: Quarantine) -> None:
        with self._tx():
            self.db.execute(
                "INSERT INTO quarantines (environment, bundle, digest, revision, at, by, "
                "to_revision) VALUES (?,?,?,?,?,?,?)",
                (
                    entry.environment,
                    entry.bundle,
                    entry.digest,
                    entry.revision,
                    entry.at,
                    entry.by,
                    entry.to_revision,
                ),
            )
            self._event(
                entry.environment,
                "quarantined",
                {
                    "bundle": entry.bundle,
                    "digest": entry.digest,
                    "revision": entry.revision,
                    "to_revision": entry.to_revision,
                    "by": entry.by,
                },
                entry.at,
            )

    def quarantined(self, environment: str, bundle: str, digest: str) -> Quarantine | None:
        key = (bundle, digest)
        return next((q for q in self.quarantines(environment) if (q.bundle, q.digest) == key), None)

    def quarantines(self, environment: str) -> list[Quarantine]:
        """The environment's quarantines not lifted yet, newest first."""
        rows = self.db.execute(
            "SELECT bundle, digest, revision, at, by, to_revision FROM quarantines "
            "WHERE environment=? AND lifted_at IS NULL ORDER BY at DESC",
            (environment,),
        ).fetchall()
        return [Quarantine(environment, *row) for row in rows]

    def saw_revision(self, environment: str, revision: str, at: float) -> None:
        """Remember when ``revision`` was first seen desired (later sightings change nothing)."""
        with self._tx():
            self.db.execute(
                "INSERT OR IGNORE INTO revisions_seen VALUES (?,?,?)", (environment, revision, at)
            )

    def first_seen(self, environment: str) -> dict[str, float]:
        """Revision -> the first time it was seen desired in ``environment``."""
        rows = self.db.execute(
            "SELECT revision, first_seen FROM revisions_seen WHERE environment=?", (environment,)
        ).fetchall()
        return dict(rows)

    def lift_quarantine(self, environment: str, bundle: str, by: str, at: float) -> int:
        with self._tx():
            lifted = self.db.execute(
                "UPDATE quarantines SET lifted_at=?, lifted_by=? WHERE environment=? "
                "AND bundle=? AND lifted_at IS NULL",
                (at, by, environment, bundle),
            ).rowcount
            if lifted:
                self._event(environment, "quarantine_lifted", {"bundle": bundle, "by": by}, at)
            return lifted

    def events(self, environment: str, limit: int = 50) -> list[dict[str, Any]]:
        rows = self.db.execute(
            "SELECT id, at, kind, data FROM events WHERE environment=? ORDER BY id DESC LIMIT ?",
            (environment, limit),
        ).fetchall()
        return [
            {"id": i, "at": at, "kind": kind, "data": json.loads(data)}
            for i, at, kind, data in reversed(rows)
        ]


class _Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (or ``ROLLBACK`` on error)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")
