"""A real moto server (the S3 API over HTTP) on 127.0.0.1 and a free port, from ``.venv-moto``.

``tests/servers/install.d/moto.sh`` installs it. ``reset()`` empties every bucket between tests
(``POST /moto-api/reset``) so the session pays the ~0.5 s start once.
"""

from __future__ import annotations

import http.server
import os
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.servers.process import free_port

ROOT = Path(__file__).resolve().parents[3]
MOTO_SERVER = ROOT / ".venv-moto" / "bin" / "moto_server"
START_TIMEOUT = 20.0


class MotoUnavailable(Exception):
    """moto is not installed, or its server did not come up; ``str()`` says what to do."""


@dataclass(frozen=True)
class Moto:
    """A running moto server: ``url`` is the ``endpoint_url`` of its S3 API."""

    url: str
    log: Path

    def reset(self) -> None:
        """Forget every bucket and object (moto's own reset endpoint)."""
        request = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/moto-api/data.json", timeout=1) as response:
            return response.status == 200
    except (OSError, urllib.error.URLError):
        return False


@contextmanager
def running_moto(workdir: Path, env: Mapping[str, str] | None = None) -> Iterator[Moto]:
    """Start ``moto_server``, wait until it answers, stop it afterwards.

    ``env`` adds variables to the server's environment, e.g. ``INITIAL_NO_AUTH_ACTION_COUNT=0``
    to make it check credentials.
    """
    if not MOTO_SERVER.exists():
        raise MotoUnavailable(
            f"moto is not installed ({MOTO_SERVER} is missing): run tests/servers/install.sh"
        )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = workdir / "moto.log"
    server_env = {**os.environ, **(env or {})}
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [str(MOTO_SERVER), "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=server_env,
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not _ready(url):
            if process.poll() is not None:
                raise MotoUnavailable(f"moto_server exited with {process.returncode}; see {log}")
            if time.monotonic() > deadline:
                raise MotoUnavailable(
                    f"moto_server did not answer in {START_TIMEOUT:g}s; see {log}"
                )
            time.sleep(0.05)
        yield Moto(url, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class ErrorPage:
    """A stub endpoint that answers every request with one fixed status and body, and counts.

    It stands for what sits in front of S3 when things go wrong: a proxy's HTML error page, a
    captive portal. (moto itself never answers 5xx.)
    """

    def __init__(self, status: int, body: bytes, content_type: str = "text/html") -> None:
        page = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                page.requests += 1
                self.send_response(page.status)
                self.send_header("Content-Type", page.content_type)
                self.send_header("Content-Length", str(len(page.body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(page.body)

            do_GET = do_PUT = do_HEAD = do_POST = _answer

            def log_message(self, format: str, *args: object) -> None:
                return None

        self.status = status
        self.body = body
        self.content_type = content_type
        self.requests = 0
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
