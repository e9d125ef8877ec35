"""A small HTTP config store for the demo fleet: GET serves files, PUT (with a token) writes.

It stands in for a region's config service on 127.0.0.1; tests of the product use nginx.
"""

from __future__ import annotations

import hmac
import json
import os
import tempfile
import threading
from functools import partial
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from ..limits import MAX_DOCUMENT


class _Handler(SimpleHTTPRequestHandler):
    token: str | None = None
    failing: set[str]
    alerts: list[dict[str, object]]

    def do_GET(self) -> None:
        if self.path.startswith("/outputs/"):
            self._outputs(self.path.removeprefix("/outputs/"))
            return
        if self.path.startswith("/health/"):
            ok = self.path.removeprefix("/health/") not in self.failing
            self.send_response(HTTPStatus.OK if ok else HTTPStatus.SERVICE_UNAVAILABLE)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        super().do_GET()

    def _outputs(self, region: str) -> None:
        """The region's recent outputs, from the model its config store holds."""
        from .upgrade import OUTPUT_REGIONS, model_of, outputs_for

        if region not in OUTPUT_REGIONS:
            self.send_error(HTTPStatus.NOT_FOUND)
            return
        body = outputs_for(model_of(Path(self.directory) / region / "support-agent.json"))
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "application/jsonl")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        """The demo's chat webhook: alerts are kept for the demo to show."""
        if self.path != "/alerts":
            self.send_error(HTTPStatus.NOT_FOUND)
            return
        body = self.rfile.read(min(int(self.headers.get("Content-Length", "0")), 1 << 20))
        try:
            self.alerts.append(json.loads(body))
        except ValueError:
            self.send_error(HTTPStatus.BAD_REQUEST)
            return
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass  # the demo's output is the reconciler's, not an access log

    def do_PUT(self) -> None:
        expected = f"Bearer {self.token}" if self.token else None
        given = self.headers.get("Authorization", "")
        if expected is None or not hmac.compare_digest(given, expected):
            self.send_error(HTTPStatus.UNAUTHORIZED, "a bearer token is required to write")
            return
        length = int(self.headers.get("Content-Length", "0"))
        if length > MAX_DOCUMENT:
            self.send_error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
            return
        body = self.rfile.read(length)
        path = Path(self.translate_path(self.path))
        root = Path(self.directory).resolve()
        if not path.resolve().is_relative_to(root):
            self.send_error(HTTPStatus.FORBIDDEN)
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".put-")
        with os.fdopen(fd, "wb") as handle:
            handle.write(body)
        os.replace(tmp, path)
        self.send_response(HTTPStatus.NO_CONTENT)
        self.end_headers()


class FleetServer:
    """Serves ``root`` on 127.0.0.1 in a background thread."""

    def __init__(self, root: Path, port: int = 0, token: str | None = None) -> None:
        self.failing: set[str] = set()
        self.alerts: list[dict[str, object]] = []
        handler = type(
            "Handler", (_Handler,), {"token": token, "failing": self.failing, "alerts": self.alerts}
        )
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), partial(handler, directory=str(root)))
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> FleetServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path.lstrip('/')}"
