"""What staged delivery keeps in state (design §12): switch intents, recorded before the first
switch request of a group and closed after its last, and each target's staged copies (which
digests are staged, and when each last served), from which garbage collection and rollback read.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

#: SQLite's migration (appended to its list); PostgreSQL's is the same with its own types.
SQLITE_MIGRATION = """
CREATE TABLE switch_intents (
    id INTEGER PRIMARY KEY, environment TEXT NOT NULL, bundle TEXT NOT NULL,
    group_name TEXT NOT NULL, revision TEXT NOT NULL, digest TEXT NOT NULL, parts TEXT NOT NULL,
    token INTEGER, started_at REAL NOT NULL, finished_at REAL, outcome TEXT,
    torn_seconds REAL);
CREATE INDEX switch_intents_open ON switch_intents (environment) WHERE finished_at IS NULL;
CREATE TABLE staged_copies (
    environment TEXT NOT NULL, target TEXT NOT NULL, bundle TEXT NOT NULL, digest TEXT NOT NULL,
    staged_at REAL NOT NULL, served_at REAL,
    PRIMARY KEY (environment, target, bundle, digest));
"""
POSTGRES_MIGRATION = (
    SQLITE_MIGRATION.replace(
        "id INTEGER PRIMARY KEY", "id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"
    )
    .replace("token INTEGER", "token BIGINT")
    .replace("REAL", "DOUBLE PRECISION")
)


@dataclass(frozen=True)
class SwitchIntent:
    """One group switch: its parts (target -> digest hex), under which lease token, and how it
    ended (``outcome`` None while unfinished: a writer that takes over re-issues it)."""

    id: int
    environment: str
    bundle: str
    group: str
    revision: str
    digest: str  #: the bundle digest of the revision (``sha256:...``)
    parts: dict[str, str]
    token: int | None
    started_at: float
    finished_at: float | None = None
    outcome: str | None = None  #: switched | reverted | failed
    torn_seconds: float | None = None  #: first switch request to last acknowledgement


class SwitchStore(Protocol):
    """The staged-delivery part of the state store contract."""

    def open_intent(
        self,
        environment: str,
        bundle: str,
        group: str,
        revision: str,
        digest: str,
        parts: Mapping[str, str],
        at: float,
    ) -> SwitchIntent: ...

    def close_intent(
        self, intent: SwitchIntent, outcome: str, torn_seconds: float | None, at: float
    ) -> None: ...

    def unfinished_intents(self, environment: str) -> list[SwitchIntent]: ...

    def switches(self, environment: str, bundle: str, limit: int = 20) -> list[SwitchIntent]: ...

    def record_staged(
        self, environment: str, bundle: str, staged: Collection[tuple[str, str]], at: float
    ) -> None: ...

    def record_served(
        self, environment: str, bundle: str, served: Collection[tuple[str, str]], at: float
    ) -> None: ...

    def forget_staged(
        self, environment: str, bundle: str, target: str, digests: Collection[str]
    ) -> None: ...

    def staged_copies(
        self, environment: str
    ) -> dict[tuple[str, str], list[tuple[str, float | None]]]: ...


_COLUMNS = (
    "id, environment, bundle, group_name, revision, digest, parts, token, started_at, "
    "finished_at, outcome, torn_seconds"
)


class _Sql(Protocol):
    """The part of the store's SQL dialect these records use."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any: ...

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...


class SwitchRecords:
    """The staged-delivery half of :class:`~reconciler.state.sql.SqlStore` (a mixin)."""

    sql: _Sql
    _fence: Any

    def _write(self, environment: str | None) -> AbstractContextManager[None]:
        raise NotImplementedError

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    # -- switch intents ------------------------------------------------------------------------

    def open_intent(
        self,
        environment: str,
        bundle: str,
        group: str,
        revision: str,
        digest: str,
        parts: Mapping[str, str],
        at: float,
    ) -> SwitchIntent:
        """Record that a group is about to switch (fenced: a deposed writer records nothing)."""
        token = self._fence.token if self._fence is not None else None
        with self._write(environment):
            row = self.sql.execute(
                "INSERT INTO switch_intents (environment, bundle, group_name, revision, digest, "
                "parts, token, started_at) VALUES (?,?,?,?,?,?,?,?) RETURNING id",
                (environment, bundle, group, revision, digest, json.dumps(dict(parts)), token, at),
            ).fetchone()
        return SwitchIntent(
            int(row[0]), environment, bundle, group, revision, digest, dict(parts), token, at
        )

    def close_intent(
        self, intent: SwitchIntent, outcome: str, torn_seconds: float | None, at: float
    ) -> None:
        with self._write(intent.environment):
            self.sql.execute(
                "UPDATE switch_intents SET finished_at=?, outcome=?, torn_seconds=? WHERE id=?",
                (at, outcome, torn_seconds, intent.id),
            )

    def unfinished_intents(self, environment: str) -> list[SwitchIntent]:
        rows = self._rows(
            f"SELECT {_COLUMNS} FROM switch_intents WHERE environment=? AND finished_at IS NULL "
            "ORDER BY id",
            (environment,),
        )
        return [_intent(row) for row in rows]

    def switches(self, environment: str, bundle: str, limit: int = 20) -> list[SwitchIntent]:
        """The latest group switches of a bundle, newest first."""
        rows = self._rows(
            f"SELECT {_COLUMNS} FROM switch_intents WHERE environment=? AND bundle=? "
            "ORDER BY id DESC LIMIT ?",
            (environment, bundle, limit),
        )
        return [_intent(row) for row in rows]

    # -- staged copies -------------------------------------------------------------------------

    def record_staged(
        self, environment: str, bundle: str, staged: Collection[tuple[str, str]], at: float
    ) -> None:
        """``(target, digest hex)`` pairs now staged."""
        with self._write(environment):
            self.sql.executemany(
                "INSERT INTO staged_copies (environment, target, bundle, digest, staged_at) "
                "VALUES (?,?,?,?,?) ON CONFLICT (environment, target, bundle, digest) "
                "DO UPDATE SET staged_at=excluded.staged_at",
                [(environment, t, bundle, d, at) for t, d in staged],
            )

    def record_served(
        self, environment: str, bundle: str, served: Collection[tuple[str, str]], at: float
    ) -> None:
        """``(target, digest hex)`` pairs that serve since ``at``."""
        with self._write(environment):
            self.sql.executemany(
                "INSERT INTO staged_copies (environment, target, bundle, digest, staged_at, "
                "served_at) VALUES (?,?,?,?,?,?) ON CONFLICT (environment, target, bundle, digest) "
                "DO UPDATE SET served_at=excluded.served_at",
                [(environment, t, bundle, d, at, at) for t, d in served],
            )

    def forget_staged(
        self, environment: str, bundle: str, target: str, digests: Collection[str]
    ) -> None:
        with self._write(environment):
            self.sql.executemany(
                "DELETE FROM staged_copies WHERE environment=? AND target=? AND bundle=? "
                "AND digest=?",
                [(environment, target, bundle, d) for d in digests],
            )

    def staged_copies(
        self, environment: str
    ) -> dict[tuple[str, str], list[tuple[str, float | None]]]:
        """(target, bundle) -> [(digest hex, when it last served)], latest served first."""
        rows = self._rows(
            "SELECT target, bundle, digest, served_at, staged_at FROM staged_copies "
            "WHERE environment=?",
            (environment,),
        )
        out: dict[tuple[str, str], list[tuple[str, float | None]]] = {}
        for target, bundle, digest, served, _ in sorted(
            rows, key=lambda r: (r[3] if r[3] is not None else -1.0, r[4]), reverse=True
        ):
            out.setdefault((target, bundle), []).append((digest, served))
        return out


def _intent(row: tuple[Any, ...]) -> SwitchIntent:
    (id_, env, bundle, group, revision, digest, parts, token, started, finished, outcome, torn) = (
        row
    )
    return SwitchIntent(
        int(id_),
        env,
        bundle,
        group,
        revision,
        digest,
        json.loads(parts),
        token,
        started,
        finished,
        outcome,
        torn,
    )
