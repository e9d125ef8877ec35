"""A receiver stand-in (a chat webhook, PagerDuty's Events API, Slack, GitHub's deployments API):
a local HTTP server that records every request — method, path, headers, raw and parsed body.

It can be told to answer an error status for the next K requests, or to be down (503) until
told otherwise; a :class:`GitHubDeployments` answers as GitHub's REST API does. A test waits for
N accepted requests on a :class:`threading.Condition` (never a sleep loop).
"""

from __future__ import annotations

import json
import re
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Received:
    """One request as the server saw it, and what it answered."""

    path: str
    body: Any  #: the parsed JSON (None when the body was not JSON)
    content_type: str
    status: int
    method: str = "POST"
    headers: dict[str, str] | None = None
    raw: bytes = b""

    @property
    def accepted(self) -> bool:
        return 200 <= self.status < 300


#: Answers a request the receiver did not fail: (status, JSON body) from (method, path, body).
Responder = Callable[[str, str, Any], tuple[int, Any]]


class GitHubDeployments:
    """GitHub's deployments API as a :data:`Responder`: list (filtered by environment and sha),
    create, and add statuses; ``deployments`` and ``statuses`` keep what was made."""

    def __init__(self) -> None:
        self.deployments: list[dict[str, Any]] = []
        self.statuses: list[tuple[int, dict[str, Any]]] = []  #: (deployment id, body)

    def __call__(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        route, _, query = path.partition("?")
        match = re.fullmatch(r"/repos/([^/]+/[^/]+)/deployments(?:/(\d+)/statuses)?", route)
        if match is None:
            return 404, {"message": "Not Found"}
        if match.group(2):
            self.statuses.append((int(match.group(2)), body))
            return 201, {"id": len(self.statuses), "state": body["state"]}
        if method == "GET":
            wanted = dict(part.split("=", 1) for part in query.split("&") if "=" in part)
            found = [
                d
                for d in self.deployments
                if d["environment"] == wanted.get("environment") and d["sha"] == wanted.get("sha")
            ]
            return 200, found
        made = {"id": 1000 + len(self.deployments), "sha": body["ref"], **body}
        self.deployments.append(made)
        return 201, made


class Webhook:
    """The server's record; ``url`` is where to POST."""

    def __init__(self, port: int, scheme: str = "http") -> None:
        self.port = port
        self.url = f"{scheme}://127.0.0.1:{port}/hooks/alerts"
        self._changed = threading.Condition()
        self._received: list[Received] = []
        self._failures: list[int] = []  # statuses to answer, one per upcoming request
        self._down = False
        self.responder: Responder | None = None  #: answers instead of 200 "ok"

    def down(self) -> None:
        """Answer 503 to every request until :meth:`up`."""
        with self._changed:
            self._down = True

    def up(self) -> None:
        with self._changed:
            self._down = False

    def fail_next(self, count: int, status: int = 500) -> None:
        """Answer ``status`` to the next ``count`` requests (then 200 again)."""
        with self._changed:
            self._failures.extend([status] * count)

    @property
    def received(self) -> list[Received]:
        """Every POST so far, failed ones included, in arrival order."""
        with self._changed:
            return list(self._received)

    def alerts(self) -> list[Any]:
        """The bodies of the requests that were answered 2xx."""
        return [r.body for r in self.received if r.accepted]

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Any]:
        """Block until ``count`` alerts were accepted; their bodies (AssertionError on timeout)."""
        with self._changed:
            done = self._changed.wait_for(
                lambda: sum(r.accepted for r in self._received) >= count, timeout
            )
            if not done:
                got = sum(r.accepted for r in self._received)
                raise AssertionError(f"webhook: {got} of {count} alerts within {timeout} s")
        return self.alerts()

    def wait_for_requests(self, count: int, timeout: float = 5.0) -> None:
        """Block until ``count`` requests arrived, answered or not (AssertionError on timeout)."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self._received) >= count, timeout):
                raise AssertionError(f"receiver: {len(self._received)} of {count} requests")

    def reset(self) -> None:
        with self._changed:
            self._received.clear()
            self._failures.clear()

    def _record(
        self, method: str, path: str, raw: bytes, headers: dict[str, str]
    ) -> tuple[int, bytes]:
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        answer = b"ok"
        with self._changed:
            status = self._failures.pop(0) if self._failures else (503 if self._down else 200)
            if status == 200 and self.responder is not None:
                status, data = self.responder(method, path, body)
                answer = json.dumps(data).encode()
            elif status != 200:
                answer = b"error"
            content_type = headers.get("Content-Type", "")
            self._received.append(Received(path, body, content_type, status, method, headers, raw))
            self._changed.notify_all()
        return status, answer


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        headers = dict(self.headers.items())
        status, body = self.server.hook._record(self.command, self.path, raw, headers)
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the test reads the record, not an access log


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    hook: Webhook


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 that no CA signed, and its key (made by the openssl CLI)."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


@contextmanager
def running_webhook(tls: tuple[Path, Path] | None = None) -> Iterator[Webhook]:
    """A webhook on 127.0.0.1 and a free port (HTTPS with ``tls``: cert, key) for the block."""
    server = _Server(("127.0.0.1", 0), _Handler)
    scheme = "http"
    if tls is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*tls)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    server.hook = Webhook(int(server.server_address[1]), scheme)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield server.hook
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
