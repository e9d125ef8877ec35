"""The daemon's HTTP surface (design §8): ``/metrics``, ``/healthz``, ``/readyz``, ``/status``,
and the on-call page (``/`` and ``/targets/<name>``, :mod:`reconciler.page`).

A stdlib threading server in a daemon thread; it only reads through the callables it is given,
so it knows nothing of audits or rollouts. GET only, 127.0.0.1 by default. Every answer says
``nosniff`` and ``no-referrer``; a page brings its own Content-Security-Policy.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import sys
import threading
import time
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote

from ..errors import ReconcilerError
from ..secrets import scrub

log = logging.getLogger(__name__)

DEFAULT_LISTEN = "127.0.0.1:9464"
#: What ``/status`` answers (with 503) until the first audit completed.
STARTING = {"status": "starting"}
_JSON = "application/json"
_TEXT = "text/plain; charset=utf-8"
#: Sent with every answer; a page adds its own Content-Security-Policy (a nonce per response).
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
}

#: Renders a page: (path, query) -> (HTTP status, body, headers).
PageRenderer = Callable[[str, dict[str, str]], tuple[int, bytes, dict[str, str]]]


def parse_listen(listen: str) -> tuple[str, int]:
    """``"127.0.0.1:9464"`` or ``"[::1]:9464"`` -> (host, port); anything else is a ValueError."""
    host, sep, port_text = listen.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    problem = ""
    if not sep or not host:
        problem = "expected HOST:PORT"
    elif not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        problem = "the port must be a number from 0 to 65535"
    elif ":" in host and not listen.startswith("["):
        problem = "write an IPv6 address in brackets, e.g. [::1]:9464"
    if problem:
        raise ValueError(f"listen address {listen!r}: {problem} (e.g. {DEFAULT_LISTEN})")
    return host, int(port_text)


#: Seconds a connection may wait for each read, and live in all (a half-sent request, or one
#: trickled a byte at a time, cannot hold a thread); connections served at once.
READ_TIMEOUT = 5.0
LIFETIME = 15.0
#: Seconds for the whole request line and headers, however they trickle in: a slow client
#: holds a slot this long at most, not :data:`LIFETIME`.
HEADER_DEADLINE = 3.0
#: Enough that dozens of slow clients leave room for every probe (a thread each, mostly idle).
MAX_CONNECTIONS = 128


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a hung scrape never keeps the process alive
    owner: StatusServer
    slots: threading.BoundedSemaphore

    def process_request(self, request: Any, client_address: Any) -> None:
        """Refuse (close) a connection beyond :data:`MAX_CONNECTIONS` instead of queueing it."""
        if not self.slots.acquire(blocking=False):
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except Exception:
            self.slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """One scrubbed JSON line, never socketserver's traceback on stderr."""
        from .log import log as event

        error = sys.exc_info()[1]
        gone = isinstance(error, (ConnectionError, TimeoutError))
        event(
            "status_client_disconnected" if gone else "status_connection_failed",
            error=f"{type(error).__name__}: {error}",
        )


class _IPv6Server(_Server):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "agent-reconciler"
    sys_version = ""
    timeout = READ_TIMEOUT  # socket timeout of every read (StreamRequestHandler)

    def setup(self) -> None:
        super().setup()
        # However slowly a client trickles its request line and headers, the connection ends
        # after HEADER_DEADLINE; whatever it does after, it ends after LIFETIME.
        self._reaper = self._timer(min(HEADER_DEADLINE, LIFETIME))
        self._started = time.monotonic()

    def _timer(self, seconds: float) -> threading.Timer:
        timer = threading.Timer(seconds, self._reap)
        timer.daemon = True
        timer.start()
        return timer

    def _reap(self) -> None:
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def parse_request(self) -> bool:
        parsed = super().parse_request()
        if parsed:  # the headers are in: the rest of the lifetime is the deadline now
            self._reaper.cancel()
            left = LIFETIME - (time.monotonic() - self._started)
            self._reaper = self._timer(max(left, 0.0))
        return parsed

    def finish(self) -> None:
        self._reaper.cancel()
        with contextlib.suppress(OSError):
            super().finish()

    def do_GET(self) -> None:
        owner = self.server.owner
        path, _, query = self.path.partition("?")
        try:
            if path == "/metrics":
                body, content_type = owner.metrics()
                self._send(HTTPStatus.OK, body, content_type)
            elif path == "/healthz":
                self._probe(owner.alive())
            elif path == "/readyz":
                self._probe(owner.ready(), owner.roles())
            elif path == "/status" or path.startswith("/status/"):
                name = unquote(path.removeprefix("/status").strip("/")) or None
                try:
                    status = owner.status(name) if name else owner.status()
                except LookupError:  # an environment this daemon does not watch
                    self._json(HTTPStatus.NOT_FOUND, {"error": "no such environment here"})
                    return
                if status is None:
                    self._json(HTTPStatus.SERVICE_UNAVAILABLE, STARTING)
                else:
                    self._json(HTTPStatus.OK, status)
            elif owner.page is not None:
                code, body, headers = owner.page(path, dict(parse_qsl(query)))
                self._send(HTTPStatus(code), body, headers.pop("Content-Type"), **headers)
            else:
                self._send(HTTPStatus.NOT_FOUND, b"not found\n", _TEXT)
        except (ConnectionError, TimeoutError) as exc:
            # The client hung up mid-answer: one line, and nothing more to send it.
            from .log import log as event

            self.close_connection = True
            event("status_client_disconnected", path=path, error=f"{type(exc).__name__}: {exc}")
        except Exception as exc:
            # A broken callback answers 500 and leaves the server (and the daemon) running; the
            # daemon's log says so in one JSON line, scrubbed like every other (no traceback,
            # whose frames could hold a secret).
            from .log import log as event

            event("status_request_failed", path=path, error=f"{type(exc).__name__}: {exc}")
            self._send(HTTPStatus.INTERNAL_SERVER_ERROR, b"internal error\n", _TEXT)

    def __getattr__(self, name: str) -> Any:
        # http.server looks up do_<METHOD>; every method but GET is refused the same way.
        if name.startswith("do_"):
            return self._not_allowed
        raise AttributeError(name)

    def _not_allowed(self) -> None:
        self.close_connection = True  # an unread request body must not be parsed as a request
        self._send(HTTPStatus.METHOD_NOT_ALLOWED, b"method not allowed\n", _TEXT, allow="GET")

    def _probe(self, ok: bool, words: str = "") -> None:
        said = f"; {words}" if words else ""
        if ok:
            self._send(HTTPStatus.OK, f"ok{said}\n".encode(), _TEXT)
        else:
            self._send(HTTPStatus.SERVICE_UNAVAILABLE, f"unavailable{said}\n".encode(), _TEXT)

    def _json(self, code: HTTPStatus, data: dict[str, Any]) -> None:
        # Known secrets masked in the text served (JSON-escaped forms too; design §11).
        self._send(code, scrub(json.dumps(data, ensure_ascii=False)).encode(), _JSON)

    def _send(self, code: HTTPStatus, body: bytes, content_type: str, **headers: str) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for name, value in {**SECURITY_HEADERS, **headers}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)


class StatusServer:
    """Serves the endpoints from the given callables until :meth:`stop`."""

    def __init__(
        self,
        listen: str = DEFAULT_LISTEN,
        *,
        metrics: Callable[[], tuple[bytes, str]],
        status: Callable[..., dict[str, Any] | None],
        alive: Callable[[], bool],
        ready: Callable[[], bool],
        page: PageRenderer | None = None,
        roles: Callable[[], str] = lambda: "",
    ) -> None:
        self.host, self._port = parse_listen(listen)
        self.page = page
        self.metrics = metrics
        #: ``status()`` for ``/status``; ``status(name)`` for ``/status/<environment>``.
        self.status = status
        self.alive = alive
        self.ready = ready
        #: Words ``/readyz`` adds: which environments this daemon leads and follows.
        self.roles = roles
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The bound port (the one the OS chose for port 0) once started; else the one asked for."""
        return self._port

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> StatusServer:
        """Bind and serve in a daemon thread; an address in use raises OSError here."""
        if self._server is not None:
            raise RuntimeError("the status server is already running")
        kind = _IPv6Server if ":" in self.host else _Server
        try:
            server = kind((self.host, self._port), _Handler)
        except OSError as exc:  # gaierror too: a host that does not resolve
            why = exc.strerror or str(exc) or type(exc).__name__
            raise ReconcilerError(
                f"--listen {self.host}:{self._port}: cannot listen there: {why}"
            ) from None
        server.owner = self
        server.slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        self._server = server
        self._port = int(server.server_address[1])
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="reconciler-status-server",
            daemon=True,
        )
        self._thread.start()
        log.debug("status server listening on %s", self.url)
        return self

    def stop(self) -> None:
        """Stop serving and close the socket (a no-op when not running)."""
        server, thread = self._server, self._thread
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> StatusServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
