"""The embedded store: one SQLite file (WAL), its schema versioned with ``PRAGMA user_version``.

It fails closed: a file that exists but is empty, truncated or unreadable is an error naming the
file and what to do, never a fresh start (quarantines included would be forgotten silently).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..model.rollout import Quarantine
from .interface import StateUnavailable
from .sql import SqlStore
from .switches import SQLITE_MIGRATION

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
    # 3: one writer per environment (a lease with a fencing token); eval records
    """
CREATE TABLE leases (
    environment TEXT PRIMARY KEY, holder TEXT NOT NULL, token INTEGER NOT NULL,
    expires_at REAL NOT NULL, acquired_at REAL NOT NULL, previous_holder TEXT,
    previous_token INTEGER, previous_expires_at REAL, previous_done INTEGER NOT NULL DEFAULT 1);
CREATE TABLE evals (
    environment TEXT NOT NULL, digest TEXT NOT NULL, result TEXT NOT NULL, at REAL NOT NULL,
    by TEXT NOT NULL, report TEXT);
CREATE INDEX skew_target ON skew_episodes (environment, bundle, target, id);
CREATE INDEX events_env ON events (environment, id);
""",
    # 4: staged delivery (design §12): switch intents, staged copies per target
    SQLITE_MIGRATION,
    # 5: skew episodes were written every step and read by nobody: a target's status and its
    # transition time are in target_status, each change in the event log, and a skew's age
    # comes from the desired revision's arrival (revisions_seen, git time)
    "DROP TABLE skew_episodes;",
)
SCHEMA_VERSION = len(MIGRATIONS)
#: Seconds a statement waits for another process's lock on the file before the step fails.
BUSY_TIMEOUT = 10.0
#: What to do about a store that cannot be read.
RESET = "restore it from a backup, or run `reconciler state reset --yes` to start over"


class _Sqlite:
    """The SQLite side of :class:`~reconciler.state.sql.Dialect`."""

    now = "((julianday('now') - 2440587.5) * 86400.0)"
    lock = ""  # BEGIN IMMEDIATE already serializes every writer of the file
    share = ""
    errors: tuple[type[BaseException], ...] = (sqlite3.Error,)

    def __init__(self, db: sqlite3.Connection, path: Path) -> None:
        self.db = db
        self.path = path
        self.identity = _identity(path)  #: the file this connection opened (device, inode)

    def replaced(self) -> bool:
        """Another file is at the path now (``state reset`` set this one aside)."""
        return str(self.path) != ":memory:" and _identity(self.path) != self.identity

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT`` (or ``ROLLBACK`` on error).

        Nothing is written to a file that was set aside: its writer learns it here, under the
        write lock, and opens the store again (the reset's new file).
        """
        self.db.execute("BEGIN IMMEDIATE")
        if self.replaced():
            self.db.execute("ROLLBACK")
            raise StateUnavailable(
                f"{self.path}: the state store was replaced (state reset); nothing more is "
                "written to the old one"
            )
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self.db.execute(sql, params)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self.db.executemany(sql, rows)

    def describe(self, error: BaseException) -> str:
        return str(error) or type(error).__name__

    def close(self) -> None:
        self.db.close()


class SqliteStore(SqlStore):
    """The state store in one SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        existed = path.exists() and str(path) != ":memory:"
        where = str(path)
        try:
            if existed:
                _check_file(path)
            db = sqlite3.connect(path, timeout=BUSY_TIMEOUT, isolation_level=None)
            super().__init__(_Sqlite(db, path), where)
            self.created = not existed  #: a new store: quarantines noted in git come back
            if existed:
                ok = db.execute("PRAGMA quick_check").fetchone()[0]
                if ok != "ok":
                    raise StateUnavailable(f"{path}: the state store is damaged ({ok}); {RESET}")
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            self._migrate(existed)
        except sqlite3.Error as exc:
            raise StateUnavailable(
                f"{path}: cannot read the state store ({exc}); {RESET}"
            ) from None

    def _migrate(self, existed: bool) -> None:
        db = self.sql.db  # type: ignore[attr-defined]
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version == SCHEMA_VERSION:
            return
        if version > SCHEMA_VERSION:
            raise StateUnavailable(
                f"{self.path}: state schema {version} is newer than this reconciler "
                f"({SCHEMA_VERSION}); upgrade agent-reconciler"
            )
        if existed and version == 0:
            raise StateUnavailable(f"{self.path}: the state store holds no schema; {RESET}")
        with self.sql.transaction():
            for script in MIGRATIONS[version:]:
                for statement in script.split(";"):
                    if statement.strip():
                        db.execute(statement)
            db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    # Kept for tests that open a transaction by hand.
    def _tx(self) -> Any:
        return self.sql.transaction()

    @property
    def db(self) -> sqlite3.Connection:
        return self.sql.db  # type: ignore[attr-defined]

    def start_over(self, aside: Path, quarantines: Sequence[Quarantine]) -> None:
        """``state reset`` of a readable store: a copy to ``aside``, then, in one transaction in
        this same file, everything forgotten but the leases (their holders keep writing here,
        their fencing tokens keep growing) and ``quarantines`` held again."""
        with sqlite3.connect(aside) as copy:
            self.db.backup(copy)
        copy.close()
        tables = [
            row[0]
            for row in self.db.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        with self.sql.transaction():
            for table in tables:
                if table != "leases":
                    self.db.execute(f"DELETE FROM {table}")
        for q in quarantines:
            self.quarantine(q)

    def replaced(self) -> bool:
        """The file at :attr:`path` is no longer the one this store opened."""
        return bool(self.sql.replaced())  # type: ignore[attr-defined]


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_dev, stat.st_ino


def _check_file(path: Path) -> None:
    """An existing store must look like SQLite before anything opens it: no fresh start."""
    try:
        with path.open("rb") as handle:
            header = handle.read(16)
    except OSError as exc:
        raise StateUnavailable(
            f"{path}: cannot read the state store ({exc.strerror}); {RESET}"
        ) from None
    if not header:
        raise StateUnavailable(f"{path}: the state store is empty (truncated?); {RESET}")
    if header != b"SQLite format 3\x00":
        raise StateUnavailable(f"{path}: this is not a state store (not SQLite); {RESET}")
