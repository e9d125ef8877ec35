"""A source as the audit reads it: each fetch parsed at once through the audit's parse cache."""

from __future__ import annotations

from ..model.document import Document, InvalidDocument
from ..sources.interface import Health, Source
from .bodies import Bodies, Unparsable


class Read:
    """A source whose fetch parses what it reads at once, through one :class:`Bodies`."""

    def __init__(self, source: Source, bodies: Bodies) -> None:
        self.source = source
        self._bodies = bodies

    def __repr__(self) -> str:
        return f"Read({self.source!r})"

    async def fetch(self, bundle: str) -> bytes | Document:
        body = await self.source.fetch(bundle)
        if isinstance(body, Document):
            return body
        doc = self._bodies.parse(body)
        if isinstance(doc, InvalidDocument):
            raise Unparsable(str(doc))
        return doc

    async def apply(self, bundle: str, document: bytes) -> None:
        await self.source.apply(bundle, document)

    def staging(self) -> object:
        """The source's stager, if it stages (a rollback switches back through it)."""
        inner = getattr(self.source, "staging", None)
        return inner() if callable(inner) else None

    async def health(self) -> Health:
        return await self.source.health()

    async def close(self) -> None:
        await self.source.close()
