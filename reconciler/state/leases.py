"""One writer per environment (design §10): a lease with a fencing token that grows at every
change of holder, its expiry computed from the database's clock (never a process's), so writers
on several machines agree on who holds what. Pre-empting a live holder (a rollback) remembers
it until it says it stopped writing.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

from .interface import Deposed, Lease, LeaseHeld, LeaseInfo


class _Sql(Protocol):
    """The part of the store's SQL dialect the leases use."""

    now: str
    lock: str

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any: ...


class LeaseRecords:
    """The lease half of :class:`~reconciler.state.sql.SqlStore` (a mixin)."""

    sql: _Sql

    def _write(self, environment: str | None) -> AbstractContextManager[None]:
        raise NotImplementedError

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def acquire(self, environment: str, holder: str, ttl: float, *, preempt: bool = False) -> Lease:
        """Take (or keep) the environment's lease for ``ttl`` seconds of the database's clock.

        Free or expired: taken with a new token. Held by ``holder``: renewed. Held by another
        live writer: :class:`LeaseHeld`, unless ``preempt`` (a rollback), which takes it with a
        new token and remembers the holder it pre-empted until that one says it stopped.
        """
        with self._write(None):
            self.sql.execute(
                "INSERT INTO leases (environment, holder, token, expires_at, acquired_at) "
                "VALUES (?, '', 0, 0, 0) ON CONFLICT (environment) DO NOTHING",
                (environment,),
            )
            held, token, expires, now = self.sql.execute(
                f"SELECT holder, token, expires_at, {self.sql.now} FROM leases "
                f"WHERE environment=?{self.sql.lock}",
                (environment,),
            ).fetchone()
            live = expires > now
            if held == holder and live:
                self.sql.execute(
                    "UPDATE leases SET expires_at=? WHERE environment=?", (now + ttl, environment)
                )
                return Lease(environment, holder, token, ttl)
            if live and not preempt:
                raise LeaseHeld(LeaseInfo(environment, held, token, expires - now))
            self.sql.execute(
                "UPDATE leases SET holder=?, token=?, expires_at=?, acquired_at=?, "
                "previous_holder=?, previous_token=?, previous_expires_at=?, previous_done=? "
                "WHERE environment=?",
                (
                    holder,
                    token + 1,
                    now + ttl,
                    now,
                    held,
                    token,
                    expires,
                    0 if live else 1,
                    environment,
                ),
            )
            return Lease(environment, holder, token + 1, ttl)

    def renew(self, lease: Lease) -> float:
        """Extend ``lease`` by its TTL from now; :class:`Deposed` when another writer took it."""
        with self._write(None):
            row = self.sql.execute(
                f"SELECT token, holder, expires_at, {self.sql.now} FROM leases "
                f"WHERE environment=?{self.sql.lock}",
                (lease.environment,),
            ).fetchone()
            # Expired but not taken over: still ours (the token guards writes, not the clock).
            if row is None or row[0] != lease.token:
                raise Deposed(lease.environment, lease.token, row[1] if row else None)
            self.sql.execute(
                "UPDATE leases SET expires_at=? WHERE environment=?",
                (row[3] + lease.ttl, lease.environment),
            )
            return float(lease.ttl)

    def release(self, lease: Lease) -> None:
        """Give ``lease`` up; a pre-empted writer says here that it stopped writing."""
        with self._write(None):
            ended = self.sql.execute(
                f"UPDATE leases SET expires_at={self.sql.now} WHERE environment=? AND token=?",
                (lease.environment, lease.token),
            ).rowcount
            if not ended:
                self.sql.execute(
                    "UPDATE leases SET previous_done=1 WHERE environment=? AND previous_token=?",
                    (lease.environment, lease.token),
                )

    def lease(self, environment: str) -> LeaseInfo | None:
        found = [info for info in self.leases() if info.environment == environment]
        return found[0] if found else None

    def leases(self) -> list[LeaseInfo]:
        """Every environment's lease as the database sees it now (never-held ones left out)."""
        rows = self._rows(
            f"SELECT environment, holder, token, expires_at - {self.sql.now}, previous_holder, "
            "previous_token, previous_done, previous_expires_at - "
            f"{self.sql.now} FROM leases WHERE token > 0 ORDER BY environment"
        )
        return [
            LeaseInfo(
                env,
                holder,
                int(token),
                float(left),
                before,
                before_token,
                bool(done) or before_left is None or before_left <= 0,
            )
            for env, holder, token, left, before, before_token, done, before_left in rows
        ]
