"""A real PostgreSQL 15 cluster (Debian's server binaries) on 127.0.0.1 and a free port.

One cluster serves the whole test session (the ``postgres`` fixture in tests/conftest.py); every
user of it takes a database of its own with :meth:`Postgres.create_database`. A test that stops
PostgreSQL must not stop the shared cluster: it starts its own with :func:`running_postgres`.

The cluster is a throwaway: superuser ``postgres``, trust authentication (the socket in its own
folder and 127.0.0.1 only), ``fsync=off``. PostgreSQL refuses to run as root, so as root its
folder belongs to the ``postgres`` user and its tools run through ``runuser``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from tests.servers.process import free_port, log_tail

PG_BIN = Path("/usr/lib/postgresql/15/bin")
START_WITHIN = 60  # seconds pg_ctl waits for the server to accept connections (~0.3 s idle)
INSTALL = "install Debian's postgresql-15 (tests/servers/install.sh)"
#: Only 127.0.0.1 and the cluster's own socket folder, both without a password.
PG_HBA = """\
local all all trust
host all all 127.0.0.1/32 trust
"""
#: Appended to postgresql.conf: where to listen, and no durability (seconds saved per test run).
SETTINGS = """
listen_addresses = '127.0.0.1'
port = {port}
unix_socket_directories = '{home}'
fsync = off
full_page_writes = off
synchronous_commit = off
"""
_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


class PostgresUnavailable(RuntimeError):
    """PostgreSQL is not installed, or a cluster did not start; the message says what to do."""


def _as_postgres(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run its tools as the ``postgres`` user then."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def _run(command: list[str], what: str, log: Path | None = None) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        server_log = f"\nthe server's log ends:\n{log_tail(log)}" if log is not None else ""
        raise PostgresUnavailable(
            f"{what} failed:\n{(done.stdout + done.stderr)[-3000:]}{server_log}"
        )


@dataclass
class Postgres:
    """A PostgreSQL cluster at ``host``:``port``, superuser ``user``, files under ``home``."""

    host: str
    port: int
    home: Path
    user: str = "postgres"

    @property
    def data(self) -> Path:
        return self.home / "pgdata"

    @property
    def log(self) -> Path:
        return self.home / "postgres.log"

    def url(self, database: str = "postgres") -> str:
        """A libpq URL (psycopg, SQLAlchemy, node-postgres...) for ``database``."""
        return f"postgresql://{self.user}@{self.host}:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """Create an empty database (lowercase name, not taken yet); its URL."""
        if not _NAME.fullmatch(name):
            raise ValueError(f"database name {name!r}: use [a-z_][a-z0-9_]*, at most 63 chars")
        createdb = [str(PG_BIN / "createdb"), "-h", self.host, "-p", str(self.port)]
        _run([*createdb, "-U", self.user, name], f"createdb {name}")
        return self.url(name)

    def is_running(self) -> bool:
        status = [str(PG_BIN / "pg_ctl"), "-D", str(self.data), "status"]
        done = subprocess.run(_as_postgres(status), capture_output=True, check=False)
        return done.returncode == 0

    def start(self) -> None:
        """Start the stopped cluster again: same port, same data (no-op when it runs)."""
        if self.is_running():
            return
        pg_ctl = [str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-w", "-t", str(START_WITHIN)]
        _run(_as_postgres([*pg_ctl, "-l", str(self.log), "start"]), "pg_ctl start", self.log)

    def stop(self) -> None:
        """Stop the cluster (fast: open connections are cut); its data stays for :meth:`start`."""
        if not self.is_running():
            return
        pg_ctl = [str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-w", "-t", str(START_WITHIN)]
        _run(_as_postgres([*pg_ctl, "-m", "fast", "stop"]), "pg_ctl stop", self.log)


def _halt(server: Postgres) -> None:
    """Stop, whatever it takes: fast, else immediate (the folder is deleted next)."""
    with suppress(PostgresUnavailable):
        server.stop()
        return
    pg_ctl = [str(PG_BIN / "pg_ctl"), "-D", str(server.data), "-m", "immediate", "stop"]
    subprocess.run(_as_postgres(pg_ctl), capture_output=True, check=False)


@contextmanager
def running_postgres() -> Iterator[Postgres]:
    """A fresh cluster of its own, stopped and deleted afterwards (whatever state it is left in)."""
    missing = [PG_BIN / tool for tool in ("initdb", "pg_ctl", "postgres", "createdb")]
    if not all(path.exists() for path in missing):
        absent = ", ".join(str(path) for path in missing if not path.exists())
        raise PostgresUnavailable(f"PostgreSQL is not installed ({absent}): {INSTALL}")
    # Not under pytest's temp folder: its parents are private to root, and postgres must enter.
    home = Path(tempfile.mkdtemp(prefix="postgres-test-"))
    try:
        if os.geteuid() == 0:
            shutil.chown(home, "postgres", "postgres")
        server = Postgres("127.0.0.1", free_port(), home)
        initdb = [str(PG_BIN / "initdb"), "-D", str(server.data), "-U", server.user]
        _run(_as_postgres([*initdb, "--auth=trust", "-E", "UTF8", "--no-sync"]), "initdb")
        (server.data / "pg_hba.conf").write_text(PG_HBA)
        with (server.data / "postgresql.conf").open("a") as conf:
            conf.write(SETTINGS.format(port=server.port, home=home))
        for attempt in range(3):
            try:
                server.start()
                break
            except PostgresUnavailable as exc:
                # Another process may take the free port between our probe and the bind.
                if "Address already in use" not in str(exc) or attempt == 2:
                    raise
                server.port = free_port()
                with (server.data / "postgresql.conf").open("a") as conf:
                    conf.write(f"port = {server.port}\n")  # the last setting wins
        try:
            yield server
        finally:
            _halt(server)
    finally:
        shutil.rmtree(home, ignore_errors=True)
