"""The audit's parse cache: every body a target answers, parsed once (equal bodies share one
:class:`~reconciler.model.document.Document`)."""

from __future__ import annotations

import hashlib

from ..model.document import Document, InvalidDocument, parse
from ..sources.interface import SourceError


class Unparsable(SourceError):
    """What a target answered is not a rendered bundle (``str()`` says why): ``invalid``."""


class Bodies:
    """Every body one audit reads, parsed once: equal bodies share one :class:`Document`.

    Bodies are compared as they arrive (a few bytes compared, not a hash of every body, when a
    fleet serves one document) and then dropped: an audit keeps one parsed document per distinct
    body, never the thousands of bodies themselves.
    """

    #: Distinct bodies of one size kept for comparison; beyond that, they are told by digest.
    KEEP = 8

    def __init__(self) -> None:
        self._by_size: dict[int, list[tuple[bytes, Document | InvalidDocument]]] = {}
        self._by_digest: dict[bytes, Document | InvalidDocument] = {}

    def parse(self, body: bytes) -> Document | InvalidDocument:
        """``body`` parsed (or why it is not a rendered bundle)."""
        alike = self._by_size.setdefault(len(body), [])
        for seen, known in alike:
            if seen == body:
                return known
        digest = hashlib.sha256(body).digest() if len(alike) >= self.KEEP else b""
        if digest:
            found = self._by_digest.get(digest)
            if found is not None:
                return found
        try:
            doc: Document | InvalidDocument = parse(body)
        except InvalidDocument as exc:
            doc = exc
        if digest:
            self._by_digest[digest] = doc
        else:
            alike.append((body, doc))
        return doc
