"""Run the real ``reconciler daemon`` as a subprocess against a repo with a local git remote."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.support.cli import EXE
from tests.support.configrepo import ConfigRepo, inventory


class Remote:
    """A bare origin, an author's working copy that pushes to it, and the user's clone."""

    def __init__(self, root: Path) -> None:
        self.origin = root / "origin.git"
        subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(self.origin)], check=True)
        self.author = ConfigRepo(root / "author")
        self.author.git("remote", "add", "origin", str(self.origin))
        self.user = root / "user"

    def push(self) -> str:
        self.author.git("push", "-q", "origin", "HEAD:main")
        return self.author.git("rev-parse", "HEAD").strip()

    def clone_user(self) -> Path:
        subprocess.run(["git", "clone", "-q", str(self.origin), str(self.user)], check=True)
        return self.user


class DaemonProcess:
    """``reconciler daemon`` in the background; ``status()`` reads its /status."""

    def __init__(
        self,
        repo: Path,
        *args: str,
        env: dict[str, str] | None = None,
        session: bool = False,
        envs: tuple[str, ...] = ("production",),
    ) -> None:
        full = dict(os.environ)
        full.update(env or {})
        self.proc = subprocess.Popen(
            [
                str(EXE),
                "--repo",
                str(repo),
                "daemon",
                *(part for name in envs for part in ("--env", name)),
                "--listen",
                "127.0.0.1:0",
                *args,
            ],
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
            text=True,
            env=full,
            start_new_session=session,  # its own process group, for a signal to the group
        )
        self.lines: list[dict[str, Any]] = []
        self._read = threading.Condition()  #: notified at every log line read
        self._started = threading.Event()
        self.url = ""
        self._drainer = threading.Thread(target=self._drain, daemon=True)
        self._drainer.start()
        if not self._started.wait(30):
            self.kill()
            raise AssertionError(f"daemon did not start: {self.lines}")

    def _drain(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            try:
                record = json.loads(line)
            except ValueError:
                record = {"event": "raw", "line": line.rstrip()}
            with self._read:
                self.lines.append(record)
                self._read.notify_all()
            if record.get("event") == "started":
                self.url = record["listen"]
                self._started.set()

    def get(self, path: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=5) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def status(self, environment: str | None = None) -> dict[str, Any] | None:
        code, body = self.get(f"/status/{environment}" if environment else "/status")
        return json.loads(body) if code == 200 else None

    def metric(self, name: str, **labels: str) -> float | None:
        """One sample of ``/metrics`` (None when absent or the daemon does not answer)."""
        try:
            code, body = self.get("/metrics")
        except OSError:
            return None
        if code != 200:
            return None
        for line in body.decode().splitlines():
            if not line.startswith(name + "{"):
                continue
            found = dict(
                part.split("=", 1) for part in line[len(name) + 1 : line.index("}")].split(",")
            )
            if all(found.get(k) == f'"{v}"' for k, v in labels.items()):
                return float(line.rsplit(" ", 1)[1])
        return None

    def wait_until(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 30.0, what: str = ""
    ) -> dict[str, Any]:
        """Poll /status until ``predicate`` holds (the daemon works in real time)."""
        deadline = time.monotonic() + timeout
        last: dict[str, Any] | None = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"daemon exited {self.proc.returncode}: {self.lines[-5:]}")
            last = self.status()
            if last is not None and predicate(last):
                return last
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}: {json.dumps(last)[:2000]}")

    def wait_for_lines(
        self,
        predicate: Callable[[dict[str, Any]], bool],
        count: int = 1,
        timeout: float = 30.0,
        what: str = "",
    ) -> list[dict[str, Any]]:
        """The log lines that match ``predicate``, once there are ``count`` of them: a line the
        daemon wrote may not have been read yet when its effect shows on /status."""

        def found() -> list[dict[str, Any]]:
            return [r for r in self.lines if predicate(r)]

        with self._read:
            if not self._read.wait_for(lambda: len(found()) >= count, timeout):
                raise AssertionError(f"timed out waiting for log lines {what}: {self.lines[-5:]}")
            return found()

    def finish(self, timeout: float = 30.0) -> int:
        """Wait for the exit, and for every log line it wrote."""
        code = self.proc.wait(timeout=timeout)
        self._drainer.join(timeout=5)
        return code

    def terminate(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=30)

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=30)


def rollout_of(status: dict[str, Any], bundle: str = "support-agent") -> dict[str, Any]:
    return status["rollout"][bundle] or {}


def complete(status: dict[str, Any]) -> bool:
    r = rollout_of(status)
    return (
        r.get("phase") == "complete"
        and status["summary"]["in_sync"] == status["summary"]["targets"]
    )


def one_file_target(root: Path) -> ConfigRepo:
    """A committed config repo at ``root`` whose production fleet is one file target, ``a``."""
    repo = ConfigRepo(root)
    repo.bundle()
    source = {"type": "file", "path": "fleet/a/{bundle}.json"}
    repo.write("targets/production.yaml", inventory([{"name": "a", "source": source}]))
    repo.write(".gitignore", "fleet/\n")
    (repo.root / "fleet" / "a").mkdir(parents=True)
    repo.commit("v1")
    return repo
