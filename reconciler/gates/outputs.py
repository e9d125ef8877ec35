"""Reading a target's recent outputs (design §5): JSON lines, newest first, at most ``sample``
of them and at most :data:`MAX_OUTPUTS_BODY` bytes, within the endpoint's timeout.

A body longer than that is not an error: the newest lines are what is wanted, and reading stops
once it has them. Failures come back as the ``SourceError`` family's one-line reasons, which
never quote the URL (it may hold a secret).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

import aiohttp

from ..errors import ConfigError
from ..limits import MAX_DOCUMENT, size_text
from ..model.gates import OutputsSpec
from ..sources.env import expand_headers
from ..sources.interface import InvalidResponse, SourceError, TransientError
from ..sources.rest import HttpClient, exception_error, resolve_url, status_error

#: Most bytes read from one outputs endpoint (the fetch cap of a rendered bundle).
MAX_OUTPUTS_BODY = MAX_DOCUMENT
_CHUNK = 64 * 1024


async def sample(
    client: HttpClient,
    url: str,
    *,
    headers: Mapping[str, str],
    timeout: float,
    lines: int,
    max_bytes: int = MAX_OUTPUTS_BODY,
) -> list[bytes]:
    """The first ``lines`` non-empty lines the endpoint answers (fewer when it has fewer)."""
    try:
        async with client.session.get(
            url,
            headers=dict(headers) or None,
            timeout=aiohttp.ClientTimeout(total=timeout),
            allow_redirects=False,
        ) as response:
            if response.status >= 300:
                raise status_error(response.status)
            return await _lines(response, lines, max_bytes)
    except SourceError:
        raise
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        raise exception_error(exc, timeout) from None


async def _lines(response: aiohttp.ClientResponse, wanted: int, max_bytes: int) -> list[bytes]:
    found: list[bytes] = []
    pending = b""
    read = 0
    async for chunk in response.content.iter_chunked(_CHUNK):
        read += len(chunk)
        *complete, pending = (pending + chunk).split(b"\n")
        found += [line.strip() for line in complete if line.strip()]
        if len(found) >= wanted:
            return found[:wanted]
        if read > max_bytes:
            if not found:
                raise InvalidResponse(f"no complete line within {size_text(max_bytes)}")
            return found  # the newest lines that fit; the rest is older
    if pending.strip():
        found.append(pending.strip())
    return found[:wanted]


async def sample_all(
    asks: Sequence[tuple[OutputsSpec, str]],
    environ: Mapping[str, str],
    *,
    left: float | None = None,
    deadline: float | None = None,
    client: HttpClient | None = None,
) -> list[list[bytes] | SourceError | ConfigError]:
    """Each ``(spec, owner)``'s sample, concurrently, on one client (``client``: the audit's
    shared pool, left open; else one of its own); a failure in its place.

    ``left`` (seconds) is what remains of the audit's ``deadline``: no sample outlasts it,
    whatever the endpoint's own timeout."""
    owned = client is None
    client = client or HttpClient(limit=64)
    try:

        async def one(spec: OutputsSpec, owner: str) -> list[bytes] | SourceError | ConfigError:
            where = f"target {owner} outputs"
            try:
                url = resolve_url(spec.url, environ, where)
                headers = expand_headers(spec.headers, environ, where)
                reading = sample(
                    client, url, headers=headers, timeout=spec.timeout, lines=spec.sample
                )
                return await asyncio.wait_for(reading, timeout=left)
            except (SourceError, ConfigError) as exc:
                return exc
            except TimeoutError:  # only wait_for's: sample() maps its own timeouts
                return TransientError(f"audit deadline ({deadline:g}s) passed before it answered")

        return list(await asyncio.gather(*(one(spec, owner) for spec, owner in asks)))
    finally:
        if owned:
            await client.close()
