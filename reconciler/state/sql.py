"""The state store over SQL: one implementation of the contract for SQLite and PostgreSQL.

The queries are written once (``?`` placeholders, ``ON CONFLICT`` upserts, both dialects speak
them); a :class:`Dialect` supplies what differs — the connection's transactions, the database's
clock, row locks, and how driver errors read. The leases (:mod:`.leases`) and staged
delivery's records (:mod:`.switches`) are mixins over the same plumbing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Protocol

from ..model.rollout import Quarantine, Rollout
from ..secrets import scrub, scrub_data
from .interface import Deposed, EvalRecord, Lease, StateUnavailable
from .leases import LeaseRecords
from .switches import SwitchRecords


# Every free text and JSON document written goes through one of these two: a reason quoting
# what a target reflected back must reach state with its secrets masked (design §11).
def _text(value: str | None) -> str | None:
    return None if value is None else scrub(value)


def _json(data: Any, *, sort_keys: bool = False) -> str:
    return json.dumps(scrub_data(data), sort_keys=sort_keys)


class Dialect(Protocol):
    """What differs between SQLite and PostgreSQL."""

    #: SQL for the database clock in Unix seconds (fractional).
    now: str
    #: Appended to a SELECT of the lease row inside a write (PostgreSQL: ``FOR UPDATE``).
    lock: str
    #: Appended to the fence's read of the lease row (PostgreSQL: ``FOR SHARE``, so a
    #: pre-emption waits for an in-flight fenced write to commit, never interleaves with it).
    share: str
    #: Python exceptions of the driver that mean "the store failed".
    errors: tuple[type[BaseException], ...]

    def transaction(self) -> AbstractContextManager[None]: ...

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any: ...

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...

    def describe(self, error: BaseException) -> str: ...

    def close(self) -> None: ...


class SqlStore(LeaseRecords, SwitchRecords):
    """A :class:`~reconciler.state.interface.StateStore` over one :class:`Dialect`."""

    sql: Dialect

    def __init__(self, dialect: Dialect, where: str) -> None:
        self.sql = dialect
        self.where = where
        self.created = False  #: set by a backend that made the store just now
        self.write_seconds = 0.0  #: time spent in write transactions (the daemon logs it)
        self._fence: Lease | None = None

    # -- plumbing ------------------------------------------------------------------------------

    def _failed(self, error: BaseException) -> StateUnavailable:
        return StateUnavailable(f"{self.where}: the state store failed: {self.sql.describe(error)}")

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            return list(self.sql.execute(sql, params).fetchall())
        except self.sql.errors as exc:
            raise self._failed(exc) from None

    @contextmanager
    def _write(self, environment: str | None) -> Iterator[None]:
        """One transaction; fenced by the lease's token when a lease fences this store."""
        started = time.perf_counter()
        try:
            with self.sql.transaction():
                fence = self._fence
                if fence is not None and environment == fence.environment:
                    row = self.sql.execute(
                        f"SELECT token, holder FROM leases WHERE environment=?{self.sql.share}",
                        (environment,),
                    ).fetchone()
                    if row is None or row[0] != fence.token:
                        raise Deposed(environment, fence.token, row[1] if row else None)
                yield
        except self.sql.errors as exc:
            raise self._failed(exc) from None
        finally:
            self.write_seconds += time.perf_counter() - started

    def fence(self, lease: Lease | None) -> None:
        """From now on, writes of ``lease``'s environment need its token (None: unfenced)."""
        self._fence = lease

    def close(self) -> None:
        self.sql.close()

    # -- rollouts and events ---------------------------------------------------------------------

    def load_rollout(self, environment: str, bundle: str) -> Rollout | None:
        rows = self._rows(
            "SELECT state FROM rollouts WHERE environment=? AND bundle=?", (environment, bundle)
        )
        if not rows:
            return None
        try:
            return Rollout.from_json(json.loads(rows[0][0]))
        except (ValueError, TypeError, KeyError, AttributeError, IndexError) as exc:
            raise StateUnavailable(
                f"{self.where}: the rollout of {bundle} in {environment} is damaged "
                f"({type(exc).__name__}); restore the store from a backup, or run "
                "`reconciler state reset --yes`"
            ) from None

    def save_rollout(
        self, rollout: Rollout, now: float, events: Sequence[tuple[str, Mapping[str, Any]]] = ()
    ) -> None:
        with self._write(rollout.environment):
            self.sql.execute(
                "INSERT INTO rollouts VALUES (?,?,?,?) ON CONFLICT (environment, bundle) "
                "DO UPDATE SET state=excluded.state, updated_at=excluded.updated_at",
                (rollout.environment, rollout.bundle, _json(rollout.to_json()), now),
            )
            self._events(rollout.environment, events, now)

    def _events(
        self, environment: str, events: Sequence[tuple[str, Mapping[str, Any]]], at: float
    ) -> None:
        if events:
            self.sql.executemany(
                "INSERT INTO events (environment, at, kind, data) VALUES (?,?,?,?)",
                [(environment, at, kind, _json(data, sort_keys=True)) for kind, data in events],
            )

    def record_event(self, environment: str, kind: str, data: Mapping[str, Any], at: float) -> None:
        with self._write(environment):
            self._events(environment, [(kind, data)], at)

    def events(self, environment: str, limit: int = 50) -> list[dict[str, Any]]:
        rows = self._rows(
            "SELECT id, at, kind, data FROM events WHERE environment=? ORDER BY id DESC LIMIT ?",
            (environment, limit),
        )
        return [
            {"id": i, "at": at, "kind": kind, "data": json.loads(data)}
            for i, at, kind, data in reversed(rows)
        ]

    def record_applies(
        self,
        environment: str,
        bundle: str,
        revision: str,
        at: float,
        outcomes: Sequence[tuple[str, str, str | None]],
    ) -> None:
        """Record many apply attempts, ``(target, outcome, error)``, in one transaction."""
        with self._write(environment):
            self.sql.executemany(
                "INSERT INTO applies (environment, bundle, target, revision, at, outcome, error) "
                "VALUES (?,?,?,?,?,?,?)",
                [(environment, bundle, t, revision, at, o, _text(e)) for t, o, e in outcomes],
            )

    # -- target statuses ---------------------------------------------------------------------------

    def observe_targets(
        self, environment: str, bundle: str, seen: Mapping[str, tuple[str, str | None]], at: float
    ) -> list[tuple[str, str | None, str]]:
        """Track statuses with transition times (each change an event); return the status
        changes as ``(target, old status or None, new status)``."""
        before = {
            target: (status, revision)
            for target, status, revision in self._rows(
                "SELECT target, status, revision FROM target_status "
                "WHERE environment=? AND bundle=?",
                (environment, bundle),
            )
        }
        moved = {t: s for t, s in seen.items() if before.get(t) != s}
        changes = [
            (t, before[t][0] if t in before else None, s[0])
            for t, s in moved.items()
            if t not in before or before[t][0] != s[0]
        ]
        if not moved:
            return changes  # nothing to write: most steps of a steady fleet
        with self._write(environment):
            self.sql.executemany(
                "INSERT INTO target_status VALUES (?,?,?,?,?,?,?) "
                "ON CONFLICT (environment, bundle, target) DO UPDATE SET status=excluded.status, "
                "revision=excluded.revision, since=excluded.since, seen_at=excluded.seen_at",
                [(environment, bundle, t, s, r, at, at) for t, (s, r) in moved.items()],
            )
            self._events(
                environment,
                [
                    (
                        "target_status",
                        {
                            "bundle": bundle,
                            "target": t,
                            "status": s,
                            "revision": r,
                            "was": before[t][0] if t in before else None,
                        },
                    )
                    for t, (s, r) in moved.items()
                ],
                at,
            )
        return changes

    # -- alerts ------------------------------------------------------------------------------------

    def record_alert(
        self,
        environment: str,
        bundle: str,
        condition: str,
        state: str,
        at: float,
        payload: Mapping[str, Any],
    ) -> None:
        with self._write(environment):
            self.sql.execute(
                "INSERT INTO alerts (environment, bundle, condition, state, at, payload) "
                "VALUES (?,?,?,?,?,?)",
                (environment, bundle, condition, state, at, _json(payload, sort_keys=True)),
            )

    def alerts(self, environment: str) -> list[dict[str, Any]]:
        rows = self._rows(
            "SELECT bundle, condition, state, at, payload FROM alerts WHERE environment=? "
            "ORDER BY id",
            (environment,),
        )
        return [
            {"bundle": b, "condition": c, "state": s, "at": at, "payload": json.loads(p)}
            for b, c, s, at, p in rows
        ]

    # -- quarantines, first sightings, evals -------------------------------------------------------

    def quarantine(self, entry: Quarantine) -> None:
        with self._write(entry.environment):
            self.sql.execute(
                "INSERT INTO quarantines (environment, bundle, digest, revision, at, by, "
                "to_revision) VALUES (?,?,?,?,?,?,?)",
                (
                    entry.environment,
                    entry.bundle,
                    entry.digest,
                    entry.revision,
                    entry.at,
                    _text(entry.by),
                    _text(entry.to_revision),
                ),
            )
            data = {
                "bundle": entry.bundle,
                "digest": entry.digest,
                "revision": entry.revision,
                "to_revision": entry.to_revision,
                "by": entry.by,
            }
            self._events(entry.environment, [("quarantined", data)], entry.at)

    def quarantined(self, environment: str, bundle: str, digest: str) -> Quarantine | None:
        key = (bundle, digest)
        return next((q for q in self.quarantines(environment) if (q.bundle, q.digest) == key), None)

    def quarantines(self, environment: str) -> list[Quarantine]:
        """The environment's quarantines not lifted yet, newest first."""
        rows = self._rows(
            "SELECT bundle, digest, revision, at, by, to_revision FROM quarantines "
            "WHERE environment=? AND lifted_at IS NULL ORDER BY at DESC",
            (environment,),
        )
        return [Quarantine(environment, *row) for row in rows]

    def lift_quarantine(self, environment: str, bundle: str, by: str, at: float) -> int:
        with self._write(environment):
            lifted = self.sql.execute(
                "UPDATE quarantines SET lifted_at=?, lifted_by=? WHERE environment=? "
                "AND bundle=? AND lifted_at IS NULL",
                (at, _text(by), environment, bundle),
            ).rowcount
            if lifted:
                self._events(environment, [("quarantine_lifted", {"bundle": bundle, "by": by})], at)
            return int(lifted)

    def saw_revision(self, environment: str, revision: str, at: float) -> None:
        """Remember when ``revision`` was first seen desired (later sightings change nothing).

        Not fenced: a first sighting is a fact any reader may record, never a decision.
        """
        with self._write(None):
            self.sql.execute(
                "INSERT INTO revisions_seen VALUES (?,?,?) "
                "ON CONFLICT (environment, revision) DO NOTHING",
                (environment, revision, at),
            )

    def first_seen(self, environment: str) -> dict[str, float]:
        """Revision -> the first time it was seen desired in ``environment``."""
        rows = self._rows(
            "SELECT revision, first_seen FROM revisions_seen WHERE environment=?", (environment,)
        )
        return {revision: seen for revision, seen in rows}

    def record_eval(self, record: EvalRecord) -> None:
        # A decision a rollout acts on: fenced by the environment's lease while one is held.
        with self._write(record.environment):
            self.sql.execute(
                "INSERT INTO evals (environment, digest, result, at, by, report) "
                "VALUES (?,?,?,?,?,?)",
                (
                    record.environment,
                    record.digest,
                    record.result,
                    record.at,
                    _text(record.by),
                    _text(record.report),
                ),
            )

    def evals(self, environment: str, digest: str) -> list[EvalRecord]:
        rows = self._rows(
            "SELECT result, at, by, report FROM evals WHERE environment=? AND digest=? "
            "ORDER BY at DESC",
            (environment, digest),
        )
        return [EvalRecord(environment, digest, r, at, by, report) for r, at, by, report in rows]

    def environments(self) -> list[str]:
        """Every environment the store has a rollout or a lease of."""
        rows = self._rows(
            "SELECT environment FROM rollouts UNION SELECT environment FROM leases ORDER BY 1"
        )
        return [row[0] for row in rows]
