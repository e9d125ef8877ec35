"""Stage, then switch (design §12): the seam through which a target's new content is put where it
does not serve yet, read back, and then made to serve.

A source that stages offers ``staging()`` returning a :class:`Stager`; one that does not (an
Unleash flag, an HTTP target without ``stage_url``, a test's in-memory fleet) is driven through
:class:`Direct`, whose switch is the plain write. Digests are named by their hex (no ``sha256:``).
Switches are idempotent: switching a target to the digest it serves changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import TYPE_CHECKING, Protocol

from .interface import PermanentError, Source

if TYPE_CHECKING:
    from ..model.document import Document

#: Where a file or an S3 object keeps its staged copies: beside the serving one.
STAGED_SUFFIX = ".staged/"


def digest_hex(document: bytes) -> str:
    """The hex of a rendered bundle's own ``digest`` (what names its staged copy)."""
    try:
        digest = json.loads(document).get("digest")
    except (ValueError, AttributeError):
        digest = None
    if not isinstance(digest, str) or not digest.startswith("sha256:"):
        raise PermanentError("cannot stage: the document states no sha256 digest")
    return digest.removeprefix("sha256:")


def staged_name(template: str, hex_: str) -> str:
    """``{template}.staged/<hex>.json``: the staged copy of a file or object (``{bundle}`` kept)."""
    return f"{template}{STAGED_SUFFIX}{hex_}.json"


class Stager(Protocol):
    """The two phases of a write to one target."""

    #: Whether anything is staged (False: the switch carries the whole content).
    stages: bool
    #: Whether the switch sends the whole content even so (``http`` with ``switch: put``).
    uploads: bool

    async def stage(self, bundle: str, hex_: str, document: bytes) -> None:
        """Put ``document`` where it does not serve; idempotent."""
        ...

    async def read_staged(self, bundle: str, hex_: str, document: bytes) -> bytes | Document:
        """The staged copy as stored (the caller recomputes its digests); NotFound when gone."""
        ...

    async def switch(self, bundle: str, hex_: str, document: bytes) -> None:
        """Make the staged ``hex_`` serve; NotFound when its staged copy is gone."""
        ...

    async def staged(self, bundle: str) -> list[str] | None:
        """The hexes staged for ``bundle`` (None: the backend cannot list them)."""
        ...

    async def drop(self, bundle: str, hexes: Collection[str]) -> None:
        """Delete those staged copies (never the serving location)."""
        ...


class Direct:
    """A target that stages nothing: its switch is the plain write of the whole content."""

    stages = False
    uploads = True

    def __init__(self, source: Source) -> None:
        self.source = source

    async def stage(self, bundle: str, hex_: str, document: bytes) -> None:
        return None

    async def read_staged(self, bundle: str, hex_: str, document: bytes) -> bytes | Document:
        return document  # nothing staged: what the switch will write

    async def switch(self, bundle: str, hex_: str, document: bytes) -> None:
        await self.source.apply(bundle, document)

    async def staged(self, bundle: str) -> list[str] | None:
        return []

    async def drop(self, bundle: str, hexes: Collection[str]) -> None:
        return None


def stager_of(source: Source) -> Stager:
    """The stager of an opened source: its own, else :class:`Direct`."""
    staging = getattr(source, "staging", None)
    found = staging() if callable(staging) else None
    return found if found is not None else Direct(source)
