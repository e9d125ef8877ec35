"""A chat webhook stand-in: a local HTTP server that records every POSTed JSON body.

It can be told to answer an error status for the next K requests, and a test waits for N
accepted alerts on a :class:`threading.Condition` (never a sleep loop).
"""

from __future__ import annotations

import json
import ssl
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Received:
    """One POST as the server saw it, and what it answered."""

    path: str
    body: Any  #: the parsed JSON (None when the body was not JSON)
    content_type: str
    status: int


class Webhook:
    """The server's record; ``url`` is where to POST."""

    def __init__(self, port: int, scheme: str = "http") -> None:
        self.port = port
        self.url = f"{scheme}://127.0.0.1:{port}/hooks/alerts"
        self._changed = threading.Condition()
        self._received: list[Received] = []
        self._failures: list[int] = []  # statuses to answer, one per upcoming request

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
        """The bodies of the POSTs that were answered 200."""
        return [r.body for r in self.received if r.status == 200]

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Any]:
        """Block until ``count`` alerts were accepted; their bodies (AssertionError on timeout)."""
        with self._changed:
            done = self._changed.wait_for(
                lambda: sum(r.status == 200 for r in self._received) >= count, timeout
            )
            if not done:
                got = sum(r.status == 200 for r in self._received)
                raise AssertionError(f"webhook: {got} of {count} alerts within {timeout} s")
        return self.alerts()

    def reset(self) -> None:
        with self._changed:
            self._received.clear()
            self._failures.clear()

    def _record(self, path: str, raw: bytes, content_type: str) -> int:
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        with self._changed:
            status = self._failures.pop(0) if self._failures else 200
            self._received.append(Received(path, body, content_type, status))
            self._changed.notify_all()
        return status


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        status = self.server.hook._record(self.path, raw, self.headers.get("Content-Type", ""))
        body = b"ok" if status == 200 else b"error"
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

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
