"""Delivering one alert to one destination over the project's one HTTP transport (aiohttp), with
bounded retries: refused connections and 429/5xx answers are tried again with backoff, within
an attempt count and a time window; a timed-out POST is not (the receiver may have taken it).

URLs, keys and tokens are secrets: no error made here names a URL, a header or an expanded
value; destinations are told apart by type and 1-based position (``pagerduty 2``).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp

from .. import secrets
from ..errors import ConfigError
from ..model.alerting import GITHUB_API, PAGERDUTY_URL, AlertSpec, routes
from ..sources.rest import USER_AGENT, exception_error, request_url
from ..variables import expand
from . import github, pagerduty, slack, webhook
from .alert import Alert

#: Answers worth another try: rate limited, or the receiver is briefly down.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
#: At most this much of an answer is read (GitHub's deployment listing is small).
MAX_ANSWER = 256 * 1024
JSON = {"Content-Type": "application/json"}

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class Bounds:
    """How hard one delivery tries: attempts, backoff (doubling, capped), a window, a timeout."""

    attempts: int = 3
    backoff: float = 0.25  #: seconds after the first failed attempt; doubles after each
    max_backoff: float = 30.0
    window: float = 10.0  #: no retry starts later than this after the first attempt
    timeout: float = 5.0  #: one attempt, connecting included


#: A command's own deliveries (``deliver``): three attempts in about a second.
NOW = Bounds()
#: Queued deliveries (the outbox, off the step's path): a receiver down for up to five
#: minutes loses nothing.
QUEUED = Bounds(attempts=12, backoff=1.0, max_backoff=30.0, window=300.0, timeout=10.0)


class Failed(Exception):
    """A destination did not take the alert; the message names no URL or secret."""


def label(number: int, spec: AlertSpec) -> str:
    """How errors name a destination: its type and 1-based position in ``alerts:``."""
    return f"{spec.type} {number}"


def routed(alert: Alert, specs: Sequence[AlertSpec]) -> list[tuple[int, AlertSpec]]:
    """The destinations (numbered from 1) ``alert`` goes to by their ``on:`` and ``bundles:``;
    a deployment's life (:data:`~reconciler.alerts.github.LIFECYCLE`) goes to GitHub only,
    whatever its ``on:``."""
    if alert.condition in github.LIFECYCLE:
        return [
            (n, s)
            for n, s in enumerate(specs, start=1)
            if s.type == "github" and routes(s.model_copy(update={"on": []}), alert.bundle, "")
        ]
    return [
        (n, s) for n, s in enumerate(specs, start=1) if routes(s, alert.bundle, alert.condition)
    ]


class Poster:
    """Requests with :class:`Bounds` on one aiohttp session; time and sleep are injectable."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        bounds: Bounds,
        *,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.session = session
        self.bounds = bounds
        self.sleep = sleep
        self.clock = clock

    async def request(
        self, method: str, url: str, data: bytes | None, headers: Mapping[str, str]
    ) -> bytes:
        """The body of a 2xx answer; :class:`Failed` once the bounds are spent."""
        started = self.clock()
        attempt = 0
        while True:
            attempt += 1
            b = self.bounds  # read each time: an outbox may hurry it (see Outbox.hurry)
            try:
                async with self.session.request(
                    method,
                    request_url(url),
                    data=data,
                    headers=dict(headers),
                    timeout=aiohttp.ClientTimeout(total=b.timeout),
                    allow_redirects=False,
                ) as response:
                    answer = await response.content.read(MAX_ANSWER)
                    if 200 <= response.status < 300:
                        return answer
                    reason = f"HTTP {response.status}"
                    again = response.status in RETRY_STATUSES
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                reason = str(exception_error(exc, b.timeout))
                again = isinstance(exc, aiohttp.ClientConnectorError) and not isinstance(
                    exc, aiohttp.ClientSSLError
                )
            delay = min(b.backoff * 2 ** (attempt - 1), b.max_backoff)
            if not again or attempt >= b.attempts or self.clock() - started + delay > b.window:
                raise Failed(reason)
            await self.sleep(delay)


def session() -> aiohttp.ClientSession:
    """A session for alerts: no cookies, no proxies from the environment."""
    return aiohttp.ClientSession(
        cookie_jar=aiohttp.DummyCookieJar(), headers={"User-Agent": USER_AGENT}, trust_env=False
    )


def _value(template: str, env: Mapping[str, str], where: str) -> str:
    try:
        return expand(template, env, where)
    except ConfigError as exc:  # names the variable only
        raise Failed(str(exc).removeprefix(f"{where}: ")) from None


def _url(template: str, env: Mapping[str, str], where: str) -> str:
    url = _value(template, env, where)
    secrets.remember_url(url)  # a webhook's whole URL is its credential
    if not url.startswith(("http://", "https://")):
        raise Failed("URL must start with http:// or https://")
    return url


async def deliver_one(
    poster: Poster,
    alert: Alert,
    spec: AlertSpec,
    where: str,
    env: Mapping[str, str],
    public_url: str | None,
) -> None:
    """Send ``alert`` to ``spec``; :class:`Failed` (a URL-free reason) when it did not take it."""
    try:
        await _send(poster, alert, spec, where, env, public_url)
    except Failed:
        raise
    except (ValueError, KeyError, TypeError):  # a malformed URL, a GitHub answer not as documented
        raise Failed("invalid URL or answer") from None


async def _send(
    poster: Poster,
    alert: Alert,
    spec: AlertSpec,
    where: str,
    env: Mapping[str, str],
    public_url: str | None,
) -> None:
    if spec.type == "webhook":
        assert spec.url is not None
        url = _url(spec.url, env, where)
        data = webhook.body(alert)
        headers = dict(JSON)
        if spec.secret is not None:
            key = _value(spec.secret, env, where)
            headers[webhook.SIGNATURE_HEADER] = webhook.signature(key, data)
        await poster.request("POST", url, data, headers)
    elif spec.type == "slack":
        assert spec.url is not None
        url = _url(spec.url, env, where)
        await poster.request("POST", url, _json(slack.message(alert, public_url)), JSON)
    elif spec.type == "pagerduty":
        assert spec.routing_key is not None
        key = _value(spec.routing_key, env, where)
        secrets.remember(key)
        url = _url(spec.url or PAGERDUTY_URL, env, where)
        body = pagerduty.event(alert, key, public_url)
        await poster.request("POST", url, _json(body), JSON)
    else:
        await _github(poster, alert, spec, where, env, public_url)


async def _github(
    poster: Poster,
    alert: Alert,
    spec: AlertSpec,
    where: str,
    env: Mapping[str, str],
    public_url: str | None,
) -> None:
    """Find (or create) the Deployment of (environment, revision), then add a status to it."""
    if alert.revision is None:
        return  # nothing was deployed: there is no deployment to speak of
    assert spec.token is not None
    token = _value(spec.token, env, where)
    secrets.remember(token)
    api = _url(spec.api_url or GITHUB_API, env, where).rstrip("/")
    base = f"{api}/repos/{spec.repository}/deployments"
    headers = {
        "Authorization": f"Bearer {token}",
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": "2022-11-28",
    }
    query = f"?environment={quote(alert.environment)}&sha={quote(alert.revision)}"
    found = json.loads(await poster.request("GET", base + query, None, headers))
    if found:
        number = found[0]["id"]
    else:
        made = await poster.request(
            "POST", base, _json(github.deployment(alert)), {**headers, **JSON}
        )
        number = json.loads(made)["id"]
    status = _json(github.status(alert, public_url))
    await poster.request("POST", f"{base}/{int(number)}/statuses", status, {**headers, **JSON})


def _json(body: Any) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode("utf-8")


def deliver(
    alert: Alert,
    specs: Sequence[AlertSpec],
    env: Mapping[str, str],
    *,
    timeout: float = NOW.timeout,
    public_url: str | None = None,
) -> list[str]:
    """Send ``alert`` to every destination it is routed to, now; one short error per failure.

    For a command that waits for the answer (tests, ``deliver``-and-say); the rollout's own
    alerts go through :class:`~reconciler.alerts.outbox.Outbox`, off the step's path.
    """
    chosen = routed(alert, specs)
    if not chosen:
        return []
    bounds = Bounds(NOW.attempts, NOW.backoff, NOW.max_backoff, NOW.window, timeout)

    async def run() -> list[str]:
        async with session() as client:
            poster = Poster(client, bounds)
            jobs = [
                deliver_one(poster, alert, spec, label(n, spec), env, public_url)
                for n, spec in chosen
            ]
            done = await asyncio.gather(*jobs, return_exceptions=True)
        errors = []
        for (n, spec), result in zip(chosen, done, strict=True):
            if isinstance(result, Failed):
                errors.append(f"{label(n, spec)}: {result}")
            elif isinstance(result, BaseException):
                errors.append(f"{label(n, spec)}: request failed ({type(result).__name__})")
        return errors

    return asyncio.run(run())
