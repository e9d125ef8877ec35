"""The one seam between the reconciler and every backend that holds effective config.

A source reads (``fetch``) and writes (``apply``) the rendered bundle of one target. Sources do
I/O only: they return raw bytes and raise errors from the ``SourceError`` family; parsing,
digesting and classification happen in the pure cores. The protocol is asynchronous so that one
event loop can fan out over thousands of HTTP targets; a backend with a synchronous client
(files, boto3) implements :class:`SyncSource` and is wrapped by :func:`threaded`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Protocol, TypeVar, runtime_checkable

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


@dataclass(frozen=True, slots=True)
class Health:
    """One health check: ``ok`` and a short human reason when it is not."""

    ok: bool
    reason: str = ""


@runtime_checkable
class Source(Protocol):
    """An asynchronous adapter for one target."""

    async def fetch(self, bundle: str) -> bytes:
        """The raw rendered-bundle document the target holds for ``bundle``."""
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

    def fetch(self, bundle: str) -> bytes: ...

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

    async def fetch(self, bundle: str) -> bytes:
        return await self._run(self.inner.fetch, bundle)

    async def apply(self, bundle: str, document: bytes) -> None:
        await self._run(self.inner.apply, bundle, document)

    async def health(self) -> Health:
        return await self._run(self.inner.health)

    async def close(self) -> None:
        await self._run(self.inner.close)
