"""An HTTP document store on 127.0.0.1 that remembers every write: targets for tests of who
writes what, when (one writer per environment, leader failover).

GET returns the document at a path (404 when none), PUT stores it (after ``delay`` seconds, or
``slow(body)`` seconds when set): a region's config store, stdlib only.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Write:
    """One finished PUT."""

    at: float  #: time.monotonic() when it was stored
    path: str
    revision: str | None  #: the rendered bundle's ``revision`` (None when not a bundle)


@dataclass
class DocStore:
    """What the store holds and every write it took."""

    url: str
    delay: float = 0.0
    slow: Callable[[bytes], float | None] | None = None  #: a body's own delay, when not None
    docs: dict[str, bytes] = field(default_factory=dict)
    writes: list[Write] = field(default_factory=list)
    started: list[str] = field(default_factory=list)  #: paths of PUTs begun
    lock: threading.Lock = field(default_factory=threading.Lock)

    def revision(self, path: str) -> str | None:
        with self.lock:
            body = self.docs.get(path)
        return _revision(body) if body else None

    def written(self, revision: str) -> dict[str, int]:
        """Path -> how many times ``revision`` was written there."""
        with self.lock:
            counts: dict[str, int] = {}
            for w in self.writes:
                if w.revision == revision:
                    counts[w.path] = counts.get(w.path, 0) + 1
            return counts

    def wait(self, predicate: Callable[[DocStore], bool], timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate(self):
            if time.monotonic() > deadline:
                raise AssertionError(f"docstore: condition not met within {timeout} s")
            time.sleep(0.02)


def _revision(body: bytes) -> str | None:
    try:
        value = json.loads(body).get("revision")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


@contextmanager
def running_docstore(delay: float = 0.0) -> Iterator[DocStore]:
    state: dict[str, DocStore] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            store = state["s"]
            with store.lock:
                body = store.docs.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def do_PUT(self) -> None:
            store = state["s"]
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with store.lock:
                store.started.append(self.path)
            own = store.slow(body) if store.slow is not None else None
            time.sleep(own if own is not None else store.delay)
            with store.lock:
                store.docs[self.path] = body
                store.writes.append(Write(time.monotonic(), self.path, _revision(body)))
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state["s"] = DocStore(f"http://127.0.0.1:{server.server_address[1]}", delay=delay)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state["s"]
    finally:
        server.shutdown()
        server.server_close()
