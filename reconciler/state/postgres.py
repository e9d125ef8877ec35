"""The shared store: PostgreSQL (psycopg 3), for several daemons with one leader per environment.

The queries are :mod:`.sql`'s; this module connects (reconnecting after PostgreSQL restarts),
keeps the schema versioned in ``reconciler_schema`` (migrated forward on start, under an
advisory lock so daemons starting together migrate once), and keeps the password out of every
message: it comes from ``${VAR}`` in the URL or libpq's own variables (``PGPASSWORD``,
``~/.pgpass``), never from what is printed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import unquote

from .. import secrets
from .interface import StateUnavailable
from .sql import SqlStore
from .switches import POSTGRES_MIGRATION

#: Each entry moves the schema one version forward.
MIGRATIONS: tuple[str, ...] = (
    """
CREATE TABLE rollouts (
    environment TEXT NOT NULL, bundle TEXT NOT NULL, state TEXT NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL, PRIMARY KEY (environment, bundle));
CREATE TABLE target_status (
    environment TEXT NOT NULL, bundle TEXT NOT NULL, target TEXT NOT NULL,
    status TEXT NOT NULL, revision TEXT, since DOUBLE PRECISION NOT NULL,
    seen_at DOUBLE PRECISION NOT NULL, PRIMARY KEY (environment, bundle, target));
CREATE TABLE skew_episodes (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, environment TEXT NOT NULL,
    bundle TEXT NOT NULL, target TEXT NOT NULL, status TEXT NOT NULL, revision TEXT,
    first_seen DOUBLE PRECISION NOT NULL, resolved_at DOUBLE PRECISION);
CREATE INDEX skew_open ON skew_episodes (environment, bundle, target) WHERE resolved_at IS NULL;
CREATE TABLE applies (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, environment TEXT NOT NULL,
    bundle TEXT NOT NULL, target TEXT NOT NULL, revision TEXT NOT NULL,
    at DOUBLE PRECISION NOT NULL, outcome TEXT NOT NULL, error TEXT);
CREATE TABLE alerts (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, environment TEXT NOT NULL,
    bundle TEXT NOT NULL, condition TEXT NOT NULL, state TEXT NOT NULL,
    at DOUBLE PRECISION NOT NULL, payload TEXT NOT NULL);
CREATE TABLE quarantines (
    environment TEXT NOT NULL, bundle TEXT NOT NULL, digest TEXT NOT NULL,
    revision TEXT NOT NULL, at DOUBLE PRECISION NOT NULL, by TEXT NOT NULL,
    lifted_at DOUBLE PRECISION, lifted_by TEXT, to_revision TEXT);
CREATE TABLE events (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, environment TEXT NOT NULL,
    at DOUBLE PRECISION NOT NULL, kind TEXT NOT NULL, data TEXT NOT NULL);
CREATE INDEX events_env ON events (environment, id);
CREATE TABLE revisions_seen (
    environment TEXT NOT NULL, revision TEXT NOT NULL, first_seen DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (environment, revision));
CREATE TABLE leases (
    environment TEXT PRIMARY KEY, holder TEXT NOT NULL, token BIGINT NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL, acquired_at DOUBLE PRECISION NOT NULL,
    previous_holder TEXT, previous_token BIGINT, previous_expires_at DOUBLE PRECISION,
    previous_done INTEGER NOT NULL DEFAULT 1);
CREATE TABLE evals (
    environment TEXT NOT NULL, digest TEXT NOT NULL, result TEXT NOT NULL,
    at DOUBLE PRECISION NOT NULL, by TEXT NOT NULL, report TEXT);
""",
    # 2: staged delivery (design §12): switch intents, staged copies per target
    POSTGRES_MIGRATION,
    # 3: skew episodes: written every step, read by nobody (see the SQLite store's 5th)
    "DROP TABLE skew_episodes;",
)
SCHEMA_VERSION = len(MIGRATIONS)
#: Any number: the advisory lock every daemon takes to migrate the schema.
_MIGRATION_LOCK = 4_702_117
#: Seconds to wait for PostgreSQL to answer a connection attempt.
CONNECT_TIMEOUT = 5
#: Milliseconds a session may sit inside a transaction without sending anything before the
#: server ends it. A fenced write holds the lease row (FOR SHARE) for milliseconds; a leader
#: frozen in the middle of one (SIGSTOP, a VM pause, a partition that keeps the socket open)
#: would otherwise hold it for as long as it is frozen, and no follower could ever take over.
IDLE_IN_TRANSACTION_MS = 5_000
#: Milliseconds a statement waits for a row lock before it fails (and the step retries): longer
#: than the idle limit, so a lock that a frozen session holds is always released first.
LOCK_TIMEOUT_MS = 10_000


def shown(url: str) -> str:
    """``url`` without a password, for messages: everything between ``user:`` and the last
    ``@`` (a password may hold ``@``, ``/`` or ``:`` unencoded), and any ``password=``."""
    head, sep, rest = url.partition("://")
    if sep and "@" in rest:
        userinfo, _, host = rest.rpartition("@")
        if ":" in userinfo:
            rest = f"{userinfo.split(':', 1)[0]}:***@{host}"
    return head + sep + re.sub(r"(?i)(password=)[^&\s]*", r"\1***", rest)


def _password(url: str) -> str | None:
    """The password written in ``url`` (as :func:`shown` reads it), None when there is none."""
    _head, sep, rest = url.partition("://")
    userinfo = rest.rpartition("@")[0] if sep else ""
    found = re.search(r"(?i)password=([^&\s]*)", url)
    if ":" in userinfo:
        return userinfo.split(":", 1)[1]
    return found.group(1) if found else None


def scrubbed(text: str, url: str) -> str:
    """``text`` (an error about ``url``) with the URL's password masked, in any form: psycopg
    quotes a token it cannot parse, and that token may be the password."""
    password = _password(url)
    if password:
        secrets.remember(password, always=True)
        secrets.remember(unquote(password), always=True)
    return shown(secrets.scrub(text))


class _Postgres:
    """The PostgreSQL side of :class:`~reconciler.state.sql.Dialect`; reconnects when needed."""

    now = "extract(epoch from clock_timestamp())::double precision"
    lock = " FOR UPDATE"
    share = " FOR SHARE"

    def __init__(self, url: str) -> None:
        import psycopg

        self.url = url
        scrubbed("", url)  # the password is known to the scrubber before anything can fail
        self.errors: tuple[type[BaseException], ...] = (psycopg.Error,)
        self.conn: Any = None
        self._connect()

    def _connect(self) -> Any:
        import psycopg

        if self.conn is None or self.conn.closed or self.conn.broken:
            if self.conn is not None:
                self.conn.close()
            self.conn = psycopg.connect(
                self.url,
                autocommit=True,
                connect_timeout=CONNECT_TIMEOUT,
                application_name="agent-reconciler",
            )
            self.conn.execute(
                f"SET idle_in_transaction_session_timeout = {int(IDLE_IN_TRANSACTION_MS)}"
            )
            self.conn.execute(f"SET lock_timeout = {int(LOCK_TIMEOUT_MS)}")
        return self.conn

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self._connect().transaction():
            yield

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self._connect().execute(sql.replace("?", "%s"), tuple(params))

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            with self._connect().cursor() as cursor:
                cursor.executemany(sql.replace("?", "%s"), [tuple(r) for r in rows])

    def describe(self, error: BaseException) -> str:
        text = str(error).strip().splitlines()
        return scrubbed(text[0], self.url) if text else type(error).__name__

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()


def check_url(url: str) -> None:
    """A user or password holding ``@``, ``/``, ``?`` or ``#`` unencoded: refused before libpq
    splits it somewhere inside the password (and names a piece of it as the host)."""
    rest = url.partition("://")[2]
    userinfo, at, host = rest.rpartition("@")
    if at and "=" not in host and any(c in userinfo for c in "@/?#"):
        raise StateUnavailable(
            f"--state {shown(url)}: the user or password holds '@', '/', '?' or '#' "
            "unencoded; percent-encode it, or pass it as ${VAR} (encoded for you)"
        )


class PostgresStore(SqlStore):
    """The state store in a PostgreSQL database, shared by every daemon of a fleet."""

    def __init__(self, url: str) -> None:
        where = shown(url)
        scrubbed("", url)
        check_url(url)
        try:
            dialect = _Postgres(url)
        except Exception as exc:  # psycopg's errors, and a URL it cannot parse
            text = str(exc).strip().splitlines()
            why = scrubbed(text[0], url) if text else type(exc).__name__
            raise StateUnavailable(f"{where}: cannot connect to the state store ({why})") from None
        super().__init__(dialect, where)
        try:
            self._migrate()
        except dialect.errors as exc:
            raise self._failed(exc) from None

    def _migrate(self) -> None:
        sql = self.sql
        with sql.transaction():
            sql.execute(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})")
            sql.execute("CREATE TABLE IF NOT EXISTS reconciler_schema (version INTEGER NOT NULL)")
            row = sql.execute("SELECT max(version) FROM reconciler_schema").fetchone()
            version = row[0] or 0
            self.created = version == 0  #: a new store: quarantines noted in git come back
            if version > SCHEMA_VERSION:
                raise StateUnavailable(
                    f"{self.where}: state schema {version} is newer than this reconciler "
                    f"({SCHEMA_VERSION}); upgrade agent-reconciler"
                )
            for script in MIGRATIONS[version:]:
                for statement in script.split(";"):
                    if statement.strip():
                        sql.execute(statement)
            if version < SCHEMA_VERSION:
                sql.execute("DELETE FROM reconciler_schema")
                sql.execute("INSERT INTO reconciler_schema VALUES (?)", (SCHEMA_VERSION,))
