"""A tiny Prometheus exporter for tests: gauges the test sets while Prometheus scrapes them.

An HTTP server on 127.0.0.1 and a free port (stdlib ``http.server`` in a thread) answering
``GET /metrics`` in the Prometheus text format (0.0.4)::

    with running_exporter() as exporter:
        exporter.set("agent_output_parse_errors_ratio", {"target": "canary"}, 0.05)
        # a Prometheus scraping exporter.target sees it at its next scrape

Every series is a gauge. A series removed with :meth:`Exporter.remove` disappears from the next
scrape, and Prometheus marks it stale (an instant query stops returning it).
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_METRIC = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")

Labels = tuple[tuple[str, str], ...]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


class Exporter:
    """The gauges served at ``url`` (``/metrics``); ``target`` goes into a scrape config."""

    def __init__(self) -> None:
        self.port = 0  # set once the server is bound
        self._lock = threading.Lock()
        self._gauges: dict[str, dict[Labels, float]] = {}
        self._help: dict[str, str] = {}
        self._scrapes = 0

    @property
    def target(self) -> str:
        """``127.0.0.1:PORT``, as a Prometheus ``static_configs`` target."""
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.target}/metrics"

    @property
    def scrapes(self) -> int:
        """How many times ``/metrics`` was served."""
        with self._lock:
            return self._scrapes

    def set(
        self, name: str, labels: Mapping[str, str] | None = None, value: float = 0.0, help: str = ""
    ) -> None:
        """Set the gauge ``name{labels}`` to ``value`` (creating it)."""
        if not _METRIC.fullmatch(name):
            raise ValueError(f"not a metric name: {name!r}")
        bad = [key for key in labels or {} if not _LABEL.fullmatch(key) or key.startswith("__")]
        if bad:
            raise ValueError(f"not label names: {bad}")
        key = tuple(sorted((str(k), str(v)) for k, v in (labels or {}).items()))
        with self._lock:
            self._gauges.setdefault(name, {})[key] = float(value)
            if help:
                self._help[name] = help

    def remove(self, name: str, labels: Mapping[str, str] | None = None) -> None:
        """Stop serving one series (``labels`` given) or every series of ``name``."""
        with self._lock:
            if labels is None:
                self._gauges.pop(name, None)
            else:
                key = tuple(sorted((str(k), str(v)) for k, v in labels.items()))
                self._gauges.get(name, {}).pop(key, None)

    def clear(self) -> None:
        """Serve no series at all."""
        with self._lock:
            self._gauges.clear()

    def render(self) -> str:
        """The exposition text, as ``/metrics`` serves it."""
        lines: list[str] = []
        with self._lock:
            for name in sorted(self._gauges):
                series = self._gauges[name]
                if not series:
                    continue
                if name in self._help:
                    lines.append(f"# HELP {name} {self._help[name]}")
                lines.append(f"# TYPE {name} gauge")
                for key, value in sorted(series.items()):
                    labels = ",".join(f'{k}="{_escape(v)}"' for k, v in key)
                    selector = f"{name}{{{labels}}}" if labels else name
                    lines.append(f"{selector} {_number(value)}")
        return "\n".join(lines) + "\n" if lines else ""


def _handler(exporter: Exporter) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?")[0] != "/metrics":
                self.send_error(404)
                return
            body = exporter.render().encode()
            with exporter._lock:
                exporter._scrapes += 1
            self.send_response(200)
            self.send_header("Content-Type", CONTENT_TYPE)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # scrapes are not news
            pass

    return Handler


@contextmanager
def running_exporter() -> Iterator[Exporter]:
    """An exporter on 127.0.0.1 and a port the OS picks; stopped afterwards."""
    exporter = Exporter()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(exporter))
    exporter.port = int(server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, name="exporter", daemon=True)
    thread.start()
    try:
        yield exporter
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
