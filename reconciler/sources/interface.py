"""The one seam between the reconciler and every backend that holds effective config.

A source reads (``fetch``) and writes (``apply``) the rendered bundle of one target, and raises
errors from the ``SourceError`` family. A backend that stores the whole document (file, http,
s3) returns its raw bytes for the audit to parse; one that keeps components one by one (mlflow,
unleash) returns them already parsed, as a :class:`~reconciler.model.document.Document` made by
:func:`observed` with the same digests parsing would give. Classification and diffing happen in
the pure cores. The protocol is asynchronous so that one
event loop can fan out over thousands of HTTP targets; a backend with a synchronous client
(files, boto3) implements :class:`SyncSource` and is wrapped by :func:`threaded`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

if TYPE_CHECKING:
    from ..model.document import Document

T = TypeVar("T")


class SourceError(Exception):
    """A target could not be read or written. ``str()`` is a one-line reason naming no secret."""

    #: True when trying again later may succeed (timeouts, refused connections, 5xx).
    transient: bool = False


class TransientError(SourceError):
    """Worth retrying after a delay: the target is down, slow, or overloaded."""

    transient = True


class PermanentError(SourceError):
    """Needs a person: bad credentials, a bad address, a request the target will never accept."""


class Unauthorized(PermanentError):
    """The target refused our credentials (401/403)."""


class NotFound(PermanentError):
    """The target answered, but holds no document for this bundle (the target is ``missing``)."""


class InvalidResponse(PermanentError):
    """The target answered with something that cannot be a rendered bundle (too large, not JSON)."""


class TooLarge(InvalidResponse):
    """The answer is larger than the caller reads (it answered: it is not unreachable)."""


@dataclass(frozen=True, slots=True)
class Health:
    """One health check: ``ok`` and a short human reason when it is not."""

    ok: bool
    reason: str = ""


@runtime_checkable
class Source(Protocol):
    """An asynchronous adapter for one target."""

    async def fetch(self, bundle: str) -> bytes | Document:
        """The rendered bundle the target holds for ``bundle``: its raw bytes, or parsed."""
        ...

    async def apply(self, bundle: str, document: bytes) -> None:
        """Write a rendered-bundle document; the caller verifies by fetching again."""
        ...

    async def health(self) -> Health:
        """The target's own health check (healthy when it has none)."""
        ...

    async def close(self) -> None:
        """Release connections and handles."""
        ...


class SyncSource(Protocol):
    """The same four operations for a backend whose client blocks."""

    def fetch(self, bundle: str) -> bytes | Document: ...

    def apply(self, bundle: str, document: bytes) -> None: ...

    def health(self) -> Health: ...

    def close(self) -> None: ...


class threaded:  # lower case: it reads as an adapter, threaded(FileSource(...))
    """Run a :class:`SyncSource` in an executor so it fits the asynchronous :class:`Source`."""

    def __init__(self, inner: SyncSource, executor: Executor | None = None) -> None:
        self.inner = inner
        self._executor = executor

    async def _run(self, fn: Callable[..., T], *args: object) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def fetch(self, bundle: str) -> bytes | Document:
        return await self._run(self.inner.fetch, bundle)

    async def apply(self, bundle: str, document: bytes) -> None:
        await self._run(self.inner.apply, bundle, document)

    async def health(self) -> Health:
        return await self._run(self.inner.health)

    async def close(self) -> None:
        await self._run(self.inner.close)

    def staging(self) -> Any:
        """The inner source's stager, run in the same executor (None when it stages nothing)."""
        inner = getattr(self.inner, "staging", None)
        found = inner() if callable(inner) else None
        return None if found is None else ThreadedStager(found, self._executor)


class SyncStager(Protocol):
    """The same operations for a backend whose client blocks (files, boto3)."""

    stages: bool
    uploads: bool

    def stage(self, bundle: str, hex_: str, document: bytes) -> None: ...

    def read_staged(self, bundle: str, hex_: str, document: bytes) -> bytes: ...

    def switch(self, bundle: str, hex_: str, document: bytes) -> None: ...

    def staged(self, bundle: str) -> list[str] | None: ...

    def drop(self, bundle: str, hexes: Collection[str]) -> None: ...


class ThreadedStager:
    """A :class:`SyncStager` run in an executor (as :class:`~.interface.threaded` runs sources)."""

    def __init__(self, inner: SyncStager, executor: Executor | None) -> None:
        self.inner = inner
        self.stages = inner.stages
        self.uploads = inner.uploads
        self._executor = executor

    async def _run(self, fn: Callable[..., T], *args: object) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def stage(self, bundle: str, hex_: str, document: bytes) -> None:
        await self._run(self.inner.stage, bundle, hex_, document)

    async def read_staged(self, bundle: str, hex_: str, document: bytes) -> bytes:
        return await self._run(self.inner.read_staged, bundle, hex_, document)

    async def switch(self, bundle: str, hex_: str, document: bytes) -> None:
        await self._run(self.inner.switch, bundle, hex_, document)

    async def staged(self, bundle: str) -> list[str] | None:
        return await self._run(self.inner.staged, bundle)

    async def drop(self, bundle: str, hexes: Collection[str]) -> None:
        await self._run(self.inner.drop, bundle, hexes)


# -- for backends that keep a bundle's components one by one (mlflow, unleash) ---------------------


def from_components(
    bundle: str,
    components: Mapping[str, Any],
    *,
    revision: object = None,
    what: str = "a component",
) -> Document:
    """The parsed document for components a backend read one by one.

    Digests are computed exactly as :func:`~reconciler.model.document.parse` computes them from a
    body; the backend states none. ``revision`` is the stamp the backend found, if a string.
    """
    from ..canonical import component_digests
    from ..model import document as observation  # loaded with the first backend that reads

    ordered = dict(sorted(components.items()))
    try:
        digests = component_digests(ordered)
    except UnicodeEncodeError:  # a lone surrogate, escaped in the backend's JSON
        raise InvalidResponse(f"{what} is not valid Unicode") from None
    return observation.Document(
        name=bundle,
        components=ordered,
        digests=digests,
        stated_digests=None,
        stated_revision=revision if isinstance(revision, str) else None,
    )


def to_apply(bundle: str, document: bytes) -> Document:
    """``document`` parsed for writing component by component; PermanentError if it is not a
    rendered bundle named ``bundle``."""
    from ..model import document as observation

    try:
        doc = observation.parse(document)
    except observation.InvalidDocument as exc:
        raise PermanentError(f"cannot apply: {exc}") from None
    if doc.name != bundle:
        raise PermanentError(f"cannot apply: the document is bundle {doc.name!r}")
    return doc
