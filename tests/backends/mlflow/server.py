"""A real MLflow tracking server (the prompt registry) on 127.0.0.1, and a tiny REST admin for it.

The server comes from ``.venv-mlflow`` (tests/servers/install.d/mlflow.sh): SQLite backend store,
local artifact root, one worker, job execution off (backends.md: ~480 MB instead of 2.3 GB). The
admin seeds and inspects the registry the way another client would, with the stdlib only.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.servers.process import free_port, log_tail, stop_group

ROOT = Path(__file__).resolve().parents[3]
MLFLOW = ROOT / ".venv-mlflow" / "bin" / "mlflow"
READY_WITHIN = 90.0  # seconds; ~4 s on an idle machine, much more while others build


class MlflowUnavailable(RuntimeError):
    """MLflow is not installed, or did not start; the message says which and what to do."""


class AdminError(RuntimeError):
    """MLflow refused an admin request: ``status`` and MLflow's ``error_code``."""

    def __init__(self, status: int, code: str) -> None:
        super().__init__(f"HTTP {status} {code}")
        self.status = status
        self.code = code


@dataclass
class Mlflow:
    """A running MLflow server at ``url``."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path

    # -- REST admin -------------------------------------------------------------------------

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """One REST call under /api/2.0/mlflow; GET bodies become the query string."""
        url = f"{self.url}/api/2.0/mlflow/{path}"
        data = None
        if method == "GET" and body:
            url += "?" + urllib.parse.urlencode(body)
        elif body is not None:
            data = json.dumps(body).encode()
        request = urllib.request.Request(
            url, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            code = json.loads(exc.read() or b"{}").get("error_code", "?")
            raise AdminError(exc.code, code) from None

    def create_prompt(self, name: str) -> None:
        tags = [{"key": "mlflow.prompt.is_prompt", "value": "true"}]
        self.call("POST", "registered-models/create", {"name": name, "tags": tags})

    def create_model(self, name: str) -> None:
        """A plain registered model (not a prompt)."""
        self.call("POST", "registered-models/create", {"name": name})

    def create_version(self, name: str, text: str, prompt_type: str = "text") -> str:
        tags = {
            "mlflow.prompt.is_prompt": "true",
            "mlflow.prompt.text": text,
            "_mlflow_prompt_type": prompt_type,
        }
        body = {
            "name": name,
            "source": "prompt-template",
            "tags": [{"key": k, "value": v} for k, v in tags.items()],
        }
        return str(self.call("POST", "model-versions/create", body)["model_version"]["version"])

    def set_alias(self, name: str, alias: str, version: str) -> None:
        body = {"name": name, "alias": alias, "version": version}
        self.call("POST", "registered-models/alias", body)

    def publish(self, name: str, text: str, alias: str = "production") -> str:
        """What a person does in the UI: a prompt (if new), a version, the alias moved to it."""
        try:
            self.create_prompt(name)
        except AdminError as exc:
            if exc.code != "RESOURCE_ALREADY_EXISTS":
                raise
        version = self.create_version(name, text)
        self.set_alias(name, alias, version)
        return version

    def set_version_tag(self, name: str, version: str, key: str, value: str) -> None:
        body = {"name": name, "version": version, "key": key, "value": value}
        self.call("POST", "model-versions/set-tag", body)

    def aliased(self, name: str, alias: str = "production") -> dict[str, Any]:
        """The version ``alias`` points to, with its tags as a dict under ``"tags"``."""
        version = self.call("GET", "registered-models/alias", {"name": name, "alias": alias})
        version = version["model_version"]
        return {**version, "tags": {t["key"]: t.get("value", "") for t in version["tags"]}}

    def versions(self, name: str) -> list[str]:
        query = {
            "filter": f"name = '{name}' AND tags.`mlflow.prompt.is_prompt` = 'true'",
            "max_results": "1000",
        }
        found = self.call("GET", "model-versions/search", query).get("model_versions", [])
        return sorted((v["version"] for v in found), key=int)

    def prompt_names(self, like: str) -> list[str]:
        query = {
            "filter": f"tags.`mlflow.prompt.is_prompt` = 'true' AND name LIKE '{like}'",
            "max_results": "1000",
        }
        found = self.call("GET", "registered-models/search", query).get("registered_models", [])
        return sorted(model["name"] for model in found)

    # -- process ----------------------------------------------------------------------------

    def stop(self) -> None:
        # The CLI starts uvicorn as a child: stop the whole process group we started.
        stop_group(self.process)


def _start(home: Path) -> Mlflow:
    port = free_port()
    log = home / "mlflow.log"
    command = [
        str(MLFLOW),
        "server",
        "--backend-store-uri",
        f"sqlite:///{home / 'mlflow.db'}",
        "--default-artifact-root",
        str(home / "artifacts"),
        "--artifacts-destination",
        str(home / "artifacts"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=home, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    server = Mlflow(f"http://127.0.0.1:{port}", process, log)
    deadline = time.monotonic() + READY_WITHIN
    while time.monotonic() < deadline:
        if process.poll() is not None:
            server.stop()
            raise MlflowUnavailable(f"mlflow server exited at start:\n{log_tail(log)}")
        try:
            with urllib.request.urlopen(f"{server.url}/health", timeout=1) as response:
                if response.status == 200:
                    return server
        except OSError:
            pass
        time.sleep(0.1)
    server.stop()
    raise MlflowUnavailable(f"mlflow server not ready within {READY_WITHIN:g} s:\n{log_tail(log)}")


@contextmanager
def running_mlflow(home: Path) -> Iterator[Mlflow]:
    """An MLflow server keeping its database, artifacts and log in ``home``."""
    if not MLFLOW.exists():
        raise MlflowUnavailable(
            f"{MLFLOW} is missing: run tests/servers/install.sh (or install.d/mlflow.sh)"
        )
    for attempt in range(3):
        try:
            server = _start(home)
            break
        except MlflowUnavailable as exc:
            # Another process may take the free port between our probe and the server's bind.
            if "address already in use" not in str(exc).lower() or attempt == 2:
                raise
    try:
        yield server
    finally:
        server.stop()
