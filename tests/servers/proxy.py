"""A real HTTP reverse proxy in front of a test server that can be told to refuse some requests
(500), e.g. the writes of a prompt registry, while it passes reads through untouched.

``refuse`` decides per request (method, path); ``on_refused`` runs at the moment a request is
refused, so a test can look at the other backends *during* the step that was refused.
"""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Rule = Callable[[str, str], bool]
_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


class Proxy:
    """Where to send requests (``url``), and what to refuse."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.url = ""
        self.refuse: Rule = lambda method, path: False
        self.on_refused: Callable[[str, str], None] = lambda method, path: None
        self.refused: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    def refusing(self, rule: Rule) -> None:
        with self.lock:
            self.refuse = rule

    def passing(self) -> None:
        self.refusing(lambda method, path: False)


def _handler(proxy: Proxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            return None

        def _any(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            with proxy.lock:
                refuse = proxy.refuse(self.command, self.path)
            if refuse:
                proxy.refused.append((self.command, self.path))
                proxy.on_refused(self.command, self.path)
                self._answer(500, b'{"error_code": "INTERNAL_ERROR"}', "application/json")
                return
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
            request = urllib.request.Request(
                proxy.upstream + self.path, data=body, method=self.command, headers=headers
            )
            try:
                with urllib.request.urlopen(request, timeout=30) as answer:
                    status, data = answer.status, answer.read()
                    kind = answer.headers.get("Content-Type", "application/json")
            except urllib.error.HTTPError as exc:
                status, data = exc.code, exc.read()
                kind = exc.headers.get("Content-Type", "application/json")
            self._answer(status, data, kind)

        def _answer(self, status: int, data: bytes, kind: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _any

    return Handler


@contextmanager
def running_proxy(upstream: str) -> Iterator[Proxy]:
    """A proxy to ``upstream`` on a free port of 127.0.0.1, for the length of the block."""
    proxy = Proxy(upstream)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(proxy))
    server.daemon_threads = True
    proxy.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        server.shutdown()
        server.server_close()
