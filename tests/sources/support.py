"""Run one source operation against a real backend, each in its own event loop and context."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from reconciler.model.document import Document
from reconciler.model.inventory import TargetSpec
from reconciler.sources import Source, SourceContext, SourceError, open_source

T = TypeVar("T")


def target(source: dict[str, Any], name: str = "pop-a", **more: Any) -> TargetSpec:
    return TargetSpec.model_validate({"name": name, "source": source, **more})


def run(
    spec: TargetSpec,
    operation: Callable[[Source], Awaitable[T]],
    *,
    root: Path,
    env: Mapping[str, str] | None = None,
    **context: Any,
) -> T:
    """``operation(source)`` in a fresh loop, with a SourceContext closed afterwards."""

    async def main() -> T:
        async with SourceContext(root, env or {}, **context) as ctx:
            return await operation(open_source(spec, ctx))

    return asyncio.run(main())


def failure(
    spec: TargetSpec,
    operation: Callable[[Source], Awaitable[object]],
    *,
    root: Path,
    env: Mapping[str, str] | None = None,
    **context: Any,
) -> SourceError:
    """The SourceError that ``operation`` raises (the test fails if it returns)."""
    try:
        result = run(spec, operation, root=root, env=env, **context)
    except SourceError as exc:
        return exc
    raise AssertionError(f"expected a SourceError, got {result!r}")


def fetch(bundle: str) -> Callable[[Source], Awaitable[bytes | Document]]:
    return lambda source: source.fetch(bundle)


def apply(bundle: str, document: bytes) -> Callable[[Source], Awaitable[None]]:
    return lambda source: source.apply(bundle, document)


@contextmanager
def closed_port() -> Iterator[int]:
    """A port that refuses connections: bound (so nobody else takes it) but not listening."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@contextmanager
def silent_port() -> Iterator[int]:
    """A port that accepts connections (in the kernel's backlog) and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        yield sock.getsockname()[1]
