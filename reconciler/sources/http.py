"""The ``http`` source: GET reads a rendered bundle, ``apply_method`` writes one (design §5).

The body is returned as raw bytes (the audit parses it); statuses and failures map onto the
``SourceError`` family the way every REST backend's do (:mod:`.rest`).
"""

from __future__ import annotations

from collections.abc import Mapping

from .interface import Health
from .rest import HttpClient, Transport, request_url


class HttpSource:
    """One HTTP target; ``url`` and ``headers`` arrive with ``${VAR}`` already expanded."""

    def __init__(
        self,
        client: HttpClient,
        url: str,
        *,
        headers: Mapping[str, str],
        timeout: float,
        apply_method: str = "PUT",
        max_body: int,
    ) -> None:
        self._transport = Transport(client, headers=headers, timeout=timeout, max_body=max_body)
        self._url = url
        self._apply_method = apply_method

    def __repr__(self) -> str:
        return "HttpSource(...)"  # the URL may carry a secret

    async def fetch(self, bundle: str) -> bytes:
        url = request_url(self._url.replace("{bundle}", bundle))
        answer = await self._transport.request("GET", url)
        return answer.body

    async def apply(self, bundle: str, document: bytes) -> None:
        url = self._url.replace("{bundle}", bundle)
        await self._transport.request(self._apply_method, url, data=document, read=False)

    async def health(self) -> Health:
        return Health(ok=True)

    async def close(self) -> None:
        return None  # the session belongs to the HttpClient, closed with the SourceContext
