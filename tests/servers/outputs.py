"""An agent's recent-outputs endpoint for tests, as a logging sidecar would serve it: JSON lines,
newest first, ``{"schema": "<output schema name>", "output": {...}}`` (stdlib, in a thread).

``GET /<name>`` answers what ``server.serve(name, lines)`` set — a list, or a function called at
every request (so what a target emits can follow what it runs). ``server.requests`` counts the
GETs per name; an unknown name is a 404. ``hang=True``: after the lines, the connection stays
open announcing more (a log that keeps going): only a reader that stops at its sample returns.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Lines = list[bytes] | Callable[[], list[bytes]]


def line(output: Any, schema: str = "report", **extra: Any) -> bytes:
    """One JSON line of the endpoint."""
    return json.dumps({"schema": schema, "output": output, **extra}).encode()


def reports(total: int, renamed: int = 0, field: str = "summary") -> list[bytes]:
    """``total`` report outputs, the first ``renamed`` carrying ``exec_summary`` for ``field``."""
    out = []
    for index in range(total):
        key = "exec_summary" if index < renamed else field
        out.append(line({key: "Order 1234 refunded.", "sentiment": "neutral"}))
    return out


class OutputsServer:
    """Serves each name's lines at ``url(name)``."""

    def __init__(self) -> None:
        self.port = 0
        self.lines: dict[str, Lines] = {}
        self.hanging: set[str] = set()
        self.requests: dict[str, int] = {}
        self._lock = threading.Lock()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}"

    def serve(self, name: str, lines: Lines, *, hang: bool = False) -> None:
        with self._lock:
            self.lines[name] = lines
            (self.hanging.add if hang else self.hanging.discard)(name)

    def body(self, name: str) -> bytes | None:
        with self._lock:
            self.requests[name] = self.requests.get(name, 0) + 1
            found = self.lines.get(name)
        if found is None:
            return None
        lines = found() if callable(found) else found
        return b"".join(item + b"\n" for item in lines)


def _handler(server: OutputsServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            name = self.path.lstrip("/").split("?")[0]
            body = server.body(name)
            if body is None:
                self.send_error(404)
                return
            hang = name in server.hanging
            self.send_response(200)
            self.send_header("Content-Type", "application/jsonl")
            self.send_header("Content-Length", str(len(body) + (1 << 20 if hang else 0)))
            self.end_headers()
            # The reconciler may hang up once it read the lines it wanted.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(body)
                self.wfile.flush()
                if hang:
                    time.sleep(10)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@contextmanager
def running_outputs() -> Iterator[OutputsServer]:
    """An outputs endpoint on 127.0.0.1 and a free port; stopped afterwards."""
    server = OutputsServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(server))
    httpd.daemon_threads = True
    server.port = int(httpd.server_address[1])
    thread = threading.Thread(target=httpd.serve_forever, name="outputs", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
