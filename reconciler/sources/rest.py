"""One way to talk to an HTTP backend: the shared session, which requests retry, body caps, and
failures mapped onto the ``SourceError`` family (design §5).

The ``http``, ``mlflow`` and ``unleash`` sources and every health check send their requests
through a :class:`Transport` (like httpx's transport: one method, a status and a body out, or one
of our own errors). What a status means beyond that (MLflow's ``error_code``, the statuses Unleash
answers on purpose) stays in each backend. All of them share one :class:`HttpClient` per
:class:`~reconciler.sources.context.SourceContext`: per-request setup is what makes a Python
fan-out slow (``tests/bench/http_fetch.py`` measures it). Reasons never quote a URL or a header
value: both may hold secrets.
"""

from __future__ import annotations

import asyncio
import errno
import functools
import json
import re
import ssl
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from yarl import URL

from ..errors import ConfigError
from ..variables import expand
from .interface import (
    Health,
    InvalidResponse,
    NotFound,
    PermanentError,
    SourceError,
    TooLarge,
    TransientError,
    Unauthorized,
)
from .tls import deferred_trust

with deferred_trust():  # no read of the CA store until an https target shakes hands
    import aiohttp

USER_AGENT = "agent-reconciler"

#: Methods worth a second attempt: sending one again cannot do anything twice. Anything else
#: goes out once, even after a failed connection (a retried POST could create twice).
IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "COPY"})
#: Statuses worth another try: the target's proxy or the target itself is overloaded or restarting.
RETRY_STATUSES = frozenset({502, 503, 504})
#: Idempotent requests get this many attempts, :func:`backoff` apart: a dead target costs about
#: 3 x its timeout. Only failures to connect or to get an answer (connection errors, timeouts)
#: and :data:`RETRY_STATUSES` are tried again; a body that breaks off midway is not.
ATTEMPTS = 3
#: Unwanted bodies up to this size are read so the keep-alive connection returns to the pool;
#: error bodies a backend explains itself are read up to this size too.
SMALL_BODY = 64 * 1024


def backoff(attempt: int) -> float:
    """Seconds to wait after failed attempt ``attempt`` (1-based): 0.2 s, then 0.4 s."""
    return min(0.1 * 2.0**attempt, 2.0)


@functools.lru_cache(maxsize=64)
def _timeout(seconds: float) -> aiohttp.ClientTimeout:
    """One request's whole budget, connecting included (one timer per request: a separate
    ``connect`` timer would add a second timeout handle per request, ~6% of a fetch)."""
    return aiohttp.ClientTimeout(total=seconds)


#: A URL yarl takes exactly as written: lowercase ``http(s)``, a plain lowercase host name or IPv4
#: address, an optional port, and a path of characters that need no percent-encoding (no query,
#: no fragment, no ``%``). Parsing one costs nothing but this match; any other URL is parsed.
_PLAIN = re.compile(
    r"https?://[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?(?::(?P<port>[0-9]{1,5}))?"
    r"(?:/[A-Za-z0-9._~!$&'()*+,;=:@/-]*)?\Z"
)


def _plain(url: str) -> bool:
    """Whether ``url`` is :data:`_PLAIN` (and has no dot segment a parser would resolve)."""
    match = _PLAIN.match(url)
    if match is None or "/." in url.partition("://")[2]:
        return False
    port = match.group("port")
    return port is None or 0 < int(port) <= 65535


def resolve_url(template: str, env: Mapping[str, str], where: str) -> str:
    """``template`` with ``${VAR}`` expanded, checked to be an http(s) URL with a host.

    Messages quote the template as written (it names variables, never their values).
    """
    url = expand(template, env, where)
    if _plain(url.replace("{bundle}", "bundle")):
        return url  # a plain URL: what the parse below would accept, without parsing it
    try:
        parsed = URL(url.replace("{bundle}", "bundle"))
    except ValueError:
        raise ConfigError(f"{where}: {template!r} is not a valid URL") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ConfigError(f"{where}: {template!r} is not an http:// or https:// URL with a host")
    return url


def request_url(url: str) -> str | URL:
    """``url`` for aiohttp: a plain one already parsed as it is written (half the cost of the
    parse aiohttp would make of the string), any other as the string itself."""
    return URL(url, encoded=True) if _plain(url) else url


class HttpClient:
    """One aiohttp session for many targets, opened lazily inside the running event loop.

    Callers should keep at most ``limit`` requests in flight (the audit's worker count): a
    request waiting for a pooled connection spends its own timeout waiting. The default TLS
    context is aiohttp's shared, verifying one (``ssl.create_default_context()``, built once when
    aiohttp is imported; it reads the CA store at its first handshake: :mod:`.tls`); pass
    ``ssl_context`` for a private CA. The environment (proxies, ``REQUESTS_CA_BUNDLE``) is
    never consulted.
    """

    def __init__(self, *, limit: int = 256, ssl_context: ssl.SSLContext | None = None) -> None:
        self.limit = limit
        self._ssl = ssl_context
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        """The shared session (retries are :class:`Transport`'s)."""
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    limit=self.limit, ssl=self._ssl if self._ssl is not None else True
                ),
                # Targets are unrelated: one target's cookies must never reach another.
                cookie_jar=aiohttp.DummyCookieJar(),
                headers={"User-Agent": USER_AGENT},
                trust_env=False,
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
        self._session = None


@dataclass(frozen=True, slots=True)
class Answer:
    """A response a backend gets to read: a 2xx, or a status it asked to explain itself."""

    status: int
    #: A 2xx's body (at most the transport's ``max_body``; empty when not read), or up to
    #: :data:`SMALL_BODY` of an error's body (empty when it could not be read).
    body: bytes


class Transport:
    """How one source sends requests: the shared client with its own headers, timeout and cap."""

    def __init__(
        self, client: HttpClient, *, headers: Mapping[str, str], timeout: float, max_body: int
    ) -> None:
        self._client = client
        self._headers = dict(headers) or None
        self._json_headers = {**headers, "Content-Type": "application/json"}
        self._timeout = _timeout(timeout)
        self._seconds = timeout
        self._max_body = max_body

    async def request(
        self,
        method: str,
        url: str | URL,
        *,
        params: Mapping[str, str] | None = None,
        data: bytes | None = None,
        json_body: Any = None,
        what: str = "",
        answers: Collection[int] = (),
        read: bool = True,
        retry: bool = True,
        extra: Mapping[str, str] | None = None,
    ) -> Answer:
        """One request, redirects not followed; a 2xx or a status in ``answers`` comes back.

        ``data`` or ``json_body`` is sent as JSON. ``read=False`` drains a 2xx's body instead of
        reading it; ``retry=False`` sends even an idempotent request once; ``extra`` headers
        go with this request only. Any other status and
        every transport failure raise from the ``SourceError`` family, prefixed with ``what``.
        """
        session = self._client.session
        attempts = ATTEMPTS if retry and method in IDEMPOTENT else 1
        if json_body is not None:
            data = json.dumps(json_body).encode("utf-8")
        headers = self._headers if data is None else self._json_headers
        if extra:  # per request (a WebDAV COPY's Destination)
            headers = {**(headers or {}), **extra}
        attempt = 0
        while True:
            attempt += 1
            answered = False  # past the status line: a failure now is not tried again
            try:
                async with session.request(
                    method,
                    url,
                    params=params,
                    data=data,
                    headers=headers,
                    timeout=self._timeout,
                    allow_redirects=False,
                ) as response:
                    status = response.status
                    if status in RETRY_STATUSES and attempt < attempts:
                        await _drain(response)  # its connection goes back before the wait
                    else:
                        answered = True
                        if status < 300:
                            if read:
                                return Answer(status, await _read_body(response, self._max_body))
                            await _drain(response)
                            return Answer(status, b"")
                        if status in answers:
                            return Answer(status, await _error_body(response))
                        await _drain(response)
                        raise _prefixed(status_error(status), what)
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                again = isinstance(exc, aiohttp.ClientConnectionError | TimeoutError)
                if answered or not again or attempt >= attempts:
                    raise _prefixed(exception_error(exc, self._seconds), what) from None
            await asyncio.sleep(backoff(attempt))


class HttpHealthCheck:
    """GET a health URL once (no retries: the rollout's hysteresis absorbs flaps); 2xx is ok."""

    def __init__(
        self, client: HttpClient, url: str, *, headers: Mapping[str, str], timeout: float
    ) -> None:
        self._url = url
        self._transport = Transport(client, headers=headers, timeout=timeout, max_body=0)

    def __repr__(self) -> str:
        return "HttpHealthCheck(...)"  # the URL may carry a secret

    async def __call__(self) -> Health:
        try:
            await self._transport.request("GET", self._url, read=False, retry=False)
        except SourceError as exc:
            return Health(False, str(exc))
        return Health(True)


async def _read_body(response: aiohttp.ClientResponse, limit: int) -> bytes:
    """The whole body, refusing one over ``limit`` bytes before or while reading it."""
    length = response.content_length
    if length is not None and length > limit:
        raise TooLarge(f"response larger than {limit} bytes")
    if length is not None and aiohttp.hdrs.CONTENT_ENCODING not in response.headers:
        return await response.read()  # aiohttp stops at Content-Length
    # Chunked or compressed: the decoded size is only known by counting.
    body = bytearray()
    async for chunk in response.content.iter_any():
        body += chunk
        if len(body) > limit:
            raise TooLarge(f"response larger than {limit} bytes")
    return bytes(body)


async def _error_body(response: aiohttp.ClientResponse) -> bytes:
    """Up to :data:`SMALL_BODY` of an error's body for the backend's own reason; empty if not."""
    try:
        return await _read_body(response, SMALL_BODY)
    except (SourceError, ValueError, aiohttp.ClientError):
        return b""


async def _drain(response: aiohttp.ClientResponse) -> None:
    """Read a small unwanted body so its connection can be reused (a large one is dropped)."""
    length = response.content_length
    if length is not None and length <= SMALL_BODY:
        await response.read()


def _prefixed(error: SourceError, what: str) -> SourceError:
    return type(error)(f"{what}: {error}") if what else error


def status_error(status: int) -> SourceError:
    """The error for a non-2xx answer (design §5: 404 is missing, 401/403 and 5xx unreachable)."""
    if status == 404:
        return NotFound("HTTP 404")
    if status in (401, 403):
        return Unauthorized(f"unauthorized (HTTP {status})")
    if status >= 500 or status in (408, 429):
        return TransientError(f"HTTP {status}")
    if status < 400:
        return PermanentError(f"HTTP {status}: redirects are not followed; use the final URL")
    return PermanentError(f"HTTP {status}")


_ERRNO_REASONS = {
    errno.ECONNREFUSED: "connection refused",
    errno.ECONNRESET: "connection reset",
    errno.EHOSTUNREACH: "host unreachable",
    errno.ENETUNREACH: "network unreachable",
}


def exception_error(exc: BaseException, timeout: float) -> SourceError:
    """A one-line error for an aiohttp failure; aiohttp's own text may quote the URL, never used."""
    if isinstance(exc, TimeoutError):  # also aiohttp's ServerTimeoutError family
        return TransientError(f"timed out after {timeout:g}s")
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return PermanentError("TLS certificate verification failed")
    if isinstance(exc, aiohttp.ClientSSLError):
        return TransientError("TLS handshake failed")
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return TransientError("host name does not resolve")
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return TransientError("server closed the connection")
    if isinstance(exc, ConnectionResetError):
        return TransientError("connection reset")
    if isinstance(exc, OSError):  # ClientOSError, ClientConnectorError
        code = exc.errno or 0
        reason = _ERRNO_REASONS.get(code) or f"connection failed ({errno.errorcode.get(code, '?')})"
        return TransientError(reason)
    if isinstance(exc, aiohttp.ClientPayloadError):
        return TransientError("response body ended early")
    if isinstance(exc, aiohttp.ClientResponseError):  # the answer was not HTTP we could parse
        return InvalidResponse("malformed HTTP response")
    if isinstance(exc, aiohttp.ClientConnectionError):
        return TransientError("connection failed")
    if isinstance(exc, ValueError | aiohttp.NonHttpUrlClientError):
        return PermanentError("invalid request URL or header")
    return TransientError(f"request failed ({type(exc).__name__})")
