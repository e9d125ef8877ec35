"""A health endpoint whose answers a test scripts: ``ok``/``fail`` per request, then a default."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Health:
    """``script(["fail", "ok"])`` answers those, in order, then ``default`` forever."""

    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}/healthz"
        self.default = "ok"
        self._script: list[str] = []
        self._lock = threading.Lock()
        self.answered: list[str] = []

    def script(self, answers: list[str], default: str = "ok") -> None:
        with self._lock:
            self._script = list(answers)
            self.default = default

    def next(self) -> str:
        with self._lock:
            answer = self._script.pop(0) if self._script else self.default
            self.answered.append(answer)
            return answer


@contextmanager
def running_health() -> Iterator[Health]:
    state: dict[str, Health] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            ok = state["health"].next() == "ok"
            self.send_response(200 if ok else 503)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state["health"] = Health(server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state["health"]
    finally:
        server.shutdown()
        server.server_close()
