"""Documents and a runner for the s3 source tests: several sources of one context per test."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from reconciler.bundle.render import Rendered
from reconciler.sources import Source, SourceContext, SourceError, open_source
from tests.sources.support import target

T = TypeVar("T")

REVISION_A = "a" * 40
REVISION_B = "b" * 40


def rendered(
    name: str = "support-agent", revision: str | None = REVISION_A, text: str = "You help."
) -> Rendered:
    return Rendered.build(
        name,
        revision,
        {
            "model": {"provider": "openai", "name": "gpt-4.1", "params": {"temperature": 0.2}},
            "prompt/system": {"text": text},
            "flag/booking_v2": {"enabled": True, "rollout": 25, "variants": {"control": 50}},
        },
    )


Open = Callable[[], Source]


def within(
    spec: dict[str, Any],
    scenario: Callable[[Open], Awaitable[T]],
    *,
    root: Path,
    env: dict[str, str] | None = None,
    **context: Any,
) -> T:
    """Run ``scenario(open)`` in a fresh loop; ``open()`` opens another source for ``spec``."""

    async def main() -> T:
        async with SourceContext(root, env or {}, **context) as ctx:
            return await scenario(lambda: open_source(target(spec, name="us-east-1"), ctx))

    return asyncio.run(main())


async def outcome(operation: Awaitable[object]) -> SourceError | None:
    """None when ``operation`` worked, else its SourceError."""
    try:
        await operation
    except SourceError as exc:
        return exc
    return None
