"""The ``http`` source: GET reads a rendered bundle, ``apply_method`` writes one (design §5).

The body is returned as raw bytes (the audit parses it); statuses and failures map onto the
``SourceError`` family the way every REST backend's do (:mod:`.rest`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from .interface import Health, NotFound, PermanentError
from .rest import HttpClient, Transport, request_url

#: Statuses of a server that does not do WebDAV COPY (nginx without ``dav_methods COPY``).
COPY_REFUSED = (405, 501)


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
        stage_url: str | None = None,
        switch: str = "put",
    ) -> None:
        self._transport = Transport(client, headers=headers, timeout=timeout, max_body=max_body)
        self._url = url
        self._apply_method = apply_method
        self._stage_url = stage_url
        self._switch = switch

    def __repr__(self) -> str:
        return "HttpSource(...)"  # the URL may carry a secret

    async def fetch(self, bundle: str) -> bytes:
        url = request_url(self._url.replace("{bundle}", bundle))
        answer = await self._transport.request("GET", url)
        return answer.body

    async def apply(self, bundle: str, document: bytes) -> None:
        url = self._url.replace("{bundle}", bundle)
        await self._transport.request(self._apply_method, url, data=document, read=False)

    def staging(self) -> HttpStager | None:
        """The staged copies at ``stage_url`` (design §12); None when it has none."""
        return HttpStager(self) if self._stage_url is not None else None

    # -- for HttpStager ----------------------------------------------------------------------

    def staged_url(self, bundle: str, hex_: str) -> str:
        assert self._stage_url is not None
        return self._stage_url.replace("{bundle}", bundle).replace("{digest_hex}", hex_)

    async def put(self, url: str, document: bytes) -> None:
        await self._transport.request("PUT", url, data=document, read=False)

    async def get(self, url: str) -> bytes:
        return (await self._transport.request("GET", request_url(url))).body

    async def copy(self, bundle: str, hex_: str) -> None:
        """WebDAV COPY of the staged copy onto the serving URL (server-side)."""
        url = self._url.replace("{bundle}", bundle)
        answer = await self._transport.request(
            "COPY",
            self.staged_url(bundle, hex_),
            read=False,
            answers=(*COPY_REFUSED, 404),
            extra={"Destination": url, "Overwrite": "T"},
        )
        if answer.status == 404:
            raise NotFound(f"staged copy {hex_[:12]} is gone")
        if answer.status in COPY_REFUSED:
            raise PermanentError(
                f"switch: copy refused (HTTP {answer.status}): the server does not allow WebDAV "
                "COPY (nginx: dav_methods COPY)"
            )

    async def delete(self, url: str) -> None:
        await self._transport.request("DELETE", url, read=False, answers=(404,))

    @property
    def switch_method(self) -> str:
        return self._switch

    async def health(self) -> Health:
        return Health(ok=True)

    async def close(self) -> None:
        return None  # the session belongs to the HttpClient, closed with the SourceContext


class HttpStager:
    """PUT ``stage_url``, then ``switch: put`` (the content to ``url``) or ``switch: copy``."""

    stages = True

    def __init__(self, source: HttpSource) -> None:
        self.source = source
        self.uploads = source.switch_method == "put"

    async def stage(self, bundle: str, hex_: str, document: bytes) -> None:
        await self.source.put(self.source.staged_url(bundle, hex_), document)

    async def read_staged(self, bundle: str, hex_: str, document: bytes) -> bytes:
        try:
            return await self.source.get(self.source.staged_url(bundle, hex_))
        except NotFound:
            raise NotFound(f"staged copy {hex_[:12]} is gone") from None

    async def switch(self, bundle: str, hex_: str, document: bytes) -> None:
        if self.source.switch_method == "copy":
            await self.source.copy(bundle, hex_)
        else:
            await self.source.apply(bundle, document)

    async def staged(self, bundle: str) -> list[str] | None:
        return None  # HTTP cannot list: the state store remembers what was staged

    async def drop(self, bundle: str, hexes: Collection[str]) -> None:
        for hex_ in hexes:
            await self.source.delete(self.source.staged_url(bundle, hex_))
