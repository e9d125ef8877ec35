"""The daemon's HTTP surface (design §8): ``/metrics``, ``/healthz``, ``/readyz``, ``/status``,
and the on-call page (``/`` and ``/targets/<name>``, :mod:`reconciler.page`).

aiohttp's low-level web server on its own event loop in a daemon thread, so a slow scrape never
waits for a step and a step never waits for a scrape. It only reads through the callables it is
given, so it knows nothing of audits or rollouts. GET only, 127.0.0.1 by default, one request
per connection. Every answer says ``nosniff`` and ``no-referrer``; a page brings its own
Content-Security-Policy.

aiohttp bounds the request line and headers by size; what it does not bound is time, so each
connection carries its own deadlines (:class:`_Connection`): a client trickling its headers a
byte at a time holds a connection :data:`HEADER_DEADLINE` seconds at most, and one event loop
serves every other client meanwhile.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import socket
import threading
from collections.abc import Callable
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, unquote

# aiohttp's server pieces, not the aiohttp.web package (its router and file serving: ~1 MB more)
from aiohttp.http_exceptions import BadHttpMethod
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest
from aiohttp.web_response import Response, StreamResponse
from aiohttp.web_server import Server

from ..errors import ReconcilerError
from ..secrets import scrub
from .log import log as event

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


#: Seconds a connection may go without sending anything while its request is incomplete, and
#: live in all (a half-sent request, or one trickled a byte at a time, cannot hold it).
READ_TIMEOUT = 5.0
LIFETIME = 15.0
#: Seconds for the whole request line and headers, however they trickle in: a slow client
#: holds a connection this long at most, not :data:`LIFETIME`.
HEADER_DEADLINE = 3.0
#: Connections served at once; one more is closed at once, not queued. A connection costs a few
#: KB on the loop, not a thread; and a burst of clients that hang up together is counted until
#: the loop reads their resets, so the cap leaves room for hundreds of them beside the probes.
MAX_CONNECTIONS = 512
#: Bytes of the request line, and of each header line (aiohttp answers 400 beyond).
MAX_LINE = 8190
#: Threads that run the callbacks (rendering a page or the metrics may take a while; the
#: probes are answered on the loop itself and never wait for them).
WORKERS = 4


class _Quiet(logging.Handler):
    """aiohttp's own error log as one scrubbed JSON line, never a traceback."""

    def emit(self, record: logging.LogRecord) -> None:
        error = record.exc_info[1] if record.exc_info else None
        gone = isinstance(error, (ConnectionError, TimeoutError))
        why = f"{type(error).__name__}: {error}" if error is not None else record.getMessage()
        event("status_client_disconnected" if gone else "status_connection_failed", error=why)


_aiohttp_log = logging.getLogger(f"{__name__}.aiohttp")
_aiohttp_log.addHandler(_Quiet())
_aiohttp_log.propagate = False
_aiohttp_log.setLevel(logging.WARNING)


class _Connection(RequestHandler):
    """One client's connection: refused beyond :data:`MAX_CONNECTIONS`; closed when its request
    is incomplete after :data:`HEADER_DEADLINE` or idle for :data:`READ_TIMEOUT`, and in any case
    after :data:`LIFETIME`."""

    owner: StatusServer
    refused = False
    _deadline: asyncio.TimerHandle | None = None
    _idle: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self.owner.connections >= MAX_CONNECTIONS:
            self.refused = True
            transport.close()
            return
        self.owner.connections += 1
        loop = asyncio.get_running_loop()
        self._opened = loop.time()
        self._deadline = loop.call_later(min(HEADER_DEADLINE, LIFETIME), self.force_close)
        self._idle = loop.call_later(READ_TIMEOUT, self.force_close)
        super().connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self._idle is not None:  # still reading the request: each read restarts the wait
            self._idle.cancel()
            self._idle = asyncio.get_running_loop().call_later(READ_TIMEOUT, self.force_close)
        super().data_received(data)

    def headers_in(self) -> None:
        """The request line and headers arrived: what is left of the lifetime is the deadline."""
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        if self._deadline is not None:
            self._deadline.cancel()
            loop = asyncio.get_running_loop()
            left = max(LIFETIME - (loop.time() - self._opened), 0.0)
            self._deadline = loop.call_later(left, self.force_close)

    def connection_lost(self, exc: BaseException | None) -> None:
        if self.refused:
            return
        self.owner.connections -= 1
        for timer in (self._deadline, self._idle):
            if timer is not None:
                timer.cancel()
        if exc is not None:  # the client reset the connection (we only ever close it)
            event("status_client_disconnected", error=f"{type(exc).__name__}: {exc}")
        super().connection_lost(exc)

    def handle_error(
        self,
        request: Any,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> StreamResponse:
        """A request aiohttp could not parse (too long, malformed): our own short answer, which
        never quotes the request back, and one log line naming the error's kind."""
        if isinstance(exc, BadHttpMethod):  # a method aiohttp's parser does not know
            return _not_allowed()
        event("status_bad_request", status=status, error=type(exc).__name__ if exc else message)
        return _response(status, f"{HTTPStatus(status).phrase.lower()}\n".encode(), _TEXT)


def _response(
    code: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
) -> Response:
    response = Response(
        status=code,
        body=body,
        headers={
            "Content-Type": content_type,
            "Cache-Control": "no-store",
            "Server": "agent-reconciler",
            **SECURITY_HEADERS,
            **(headers or {}),
        },
    )
    response.force_close()  # one request per connection: its deadlines are the connection's
    return response


def _not_allowed() -> Response:
    return _response(405, b"method not allowed\n", _TEXT, {"Allow": "GET"})


def _probe(ok: bool, words: str = "") -> Response:
    said = f"; {words}" if words else ""
    if ok:
        return _response(200, f"ok{said}\n".encode(), _TEXT)
    return _response(503, f"unavailable{said}\n".encode(), _TEXT)


def _json(code: int, data: dict[str, Any]) -> Response:
    # Known secrets masked in the text served (JSON-escaped forms too; design §11).
    return _response(code, scrub(json.dumps(data, ensure_ascii=False)).encode(), _JSON)


def _loop_error(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """What asyncio would print with a traceback: one scrubbed line instead."""
    error = context.get("exception")
    why = f"{type(error).__name__}: {error}" if error is not None else context.get("message")
    event("status_connection_failed", error=why)


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
        self.connections = 0  #: open now (read and written on the server's loop only)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._listening: asyncio.Server | None = None
        self._web: Server | None = None
        self._workers: concurrent.futures.ThreadPoolExecutor | None = None

    @property
    def port(self) -> int:
        """The bound port (the one the OS chose for port 0) once started; else the one asked for."""
        return self._port

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    # -- answering ---------------------------------------------------------------------------

    async def _answer(self, request: BaseRequest) -> StreamResponse:
        connection = request.protocol
        if isinstance(connection, _Connection):
            connection.headers_in()
        path, _, query = request.raw_path.partition("?")
        if request.method != "GET":
            return _not_allowed()  # the connection closes: an unread body is never parsed
        try:
            if path == "/healthz":
                return _probe(self.alive())
            if path == "/readyz":
                return _probe(self.ready(), self.roles())
            return await asyncio.get_running_loop().run_in_executor(
                self._workers, self._read, path, query
            )
        except Exception as exc:
            # A broken callback answers 500 and leaves the server (and the daemon) running; the
            # daemon's log says so in one JSON line, scrubbed like every other (no traceback,
            # whose frames could hold a secret).
            event("status_request_failed", path=path, error=f"{type(exc).__name__}: {exc}")
            return _response(500, b"internal error\n", _TEXT)

    def _read(self, path: str, query: str) -> Response:
        """The answers that call into the daemon (in a worker thread: they may take a while)."""
        if path == "/metrics":
            body, content_type = self.metrics()
            return _response(200, body, content_type)
        if path == "/status" or path.startswith("/status/"):
            name = unquote(path.removeprefix("/status").strip("/")) or None
            try:
                status = self.status(name) if name else self.status()
            except LookupError:  # an environment this daemon does not watch
                return _json(404, {"error": "no such environment here"})
            return _json(503, STARTING) if status is None else _json(200, status)
        if self.page is not None:
            code, body, headers = self.page(path, dict(parse_qsl(query)))
            return _response(HTTPStatus(code), body, headers.pop("Content-Type"), headers)
        return _response(404, b"not found\n", _TEXT)

    # -- running -----------------------------------------------------------------------------

    def _connection(self) -> _Connection:
        assert self._web is not None
        connection = _Connection(
            self._web,
            loop=asyncio.get_running_loop(),
            keepalive_timeout=0,  # one request per connection; the deadlines are _Connection's
            logger=_aiohttp_log,
            access_log=None,  # type: ignore[arg-type]  # None turns it off (aiohttp docs)
            max_line_size=MAX_LINE,
            max_field_size=MAX_LINE,
        )
        connection.owner = self
        return connection

    async def _open(self) -> None:
        self._web = Server(self._answer)
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        self._listening = await asyncio.get_running_loop().create_server(
            self._connection, self.host, self._port, family=family, reuse_address=True
        )
        self._port = int(self._listening.sockets[0].getsockname()[1])

    async def _close(self) -> None:
        if self._listening is not None:
            self._listening.close()
        if self._web is not None:
            for connection in self._web.connections:
                connection.force_close()

    def _serve(self, opened: concurrent.futures.Future[None]) -> None:
        loop = self._loop
        assert loop is not None
        asyncio.set_event_loop(loop)
        loop.set_exception_handler(_loop_error)
        try:
            loop.run_until_complete(self._open())
        except BaseException as exc:
            opened.set_exception(exc)
            loop.close()
            return
        opened.set_result(None)
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def start(self) -> StatusServer:
        """Bind and serve in a daemon thread; an address in use raises ReconcilerError here."""
        if self._thread is not None:
            raise RuntimeError("the status server is already running")
        self._loop = asyncio.new_event_loop()
        self._workers = concurrent.futures.ThreadPoolExecutor(
            WORKERS, thread_name_prefix="reconciler-status"
        )
        opened: concurrent.futures.Future[None] = concurrent.futures.Future()
        thread = threading.Thread(
            target=self._serve, args=(opened,), name="reconciler-status-server", daemon=True
        )
        thread.start()
        try:
            opened.result()
        except OSError as exc:  # gaierror too: a host that does not resolve
            thread.join()
            self._workers.shutdown(wait=False)
            self._loop = self._workers = None
            why = exc.strerror or str(exc) or type(exc).__name__
            raise ReconcilerError(
                f"--listen {self.host}:{self._port}: cannot listen there: {why}"
            ) from None
        self._thread = thread
        log.debug("status server listening on %s", self.url)
        return self

    def stop(self) -> None:
        """Stop serving and close the socket (a no-op when not running)."""
        loop, thread, workers = self._loop, self._thread, self._workers
        if loop is None or thread is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self._close(), loop).result(timeout=5)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=5)
            if workers is not None:
                workers.shutdown(wait=False, cancel_futures=True)
            self._loop = self._thread = self._workers = None
            self._listening = self._web = None

    def __enter__(self) -> StatusServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
