"""What every source of one run shares: the repo root, the environment and one HTTP client.

It sits below the registry and every backend (they all import it; it imports none of them), so
the sources package has no import circle. aiohttp is imported only when the first HTTP source or
health check asks for the client.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from concurrent.futures import Executor
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from ..limits import MAX_DOCUMENT

if TYPE_CHECKING:
    from .rest import HttpClient

#: Largest document a source returns; anything bigger is an InvalidResponse (design §11).
DEFAULT_MAX_BODY = MAX_DOCUMENT


class SourceContext:
    """What every source of one run shares: the repo root, the environment, one HTTP client.

    Use it from one event loop and close it there (``await ctx.close()`` or ``async with``).
    """

    def __init__(
        self,
        repo_root: Path,
        env: Mapping[str, str] | None = None,
        *,
        connection_limit: int = 256,
        ssl_context: ssl.SSLContext | None = None,
        max_body: int = DEFAULT_MAX_BODY,
        executor: Executor | None = None,
    ) -> None:
        self.repo_root = Path(repo_root)
        self.env: Mapping[str, str] = os.environ if env is None else env
        self.connection_limit = connection_limit
        self.max_body = max_body
        self.executor = executor
        self._ssl_context = ssl_context
        self._http: HttpClient | None = None

    @property
    def http(self) -> HttpClient:
        """The HTTP client shared by every HTTP source and health check (created on first use)."""
        if self._http is None:
            from .rest import HttpClient  # aiohttp loads only when a run needs HTTP

            self._http = HttpClient(limit=self.connection_limit, ssl_context=self._ssl_context)
        return self._http

    async def close(self) -> None:
        """Close the shared HTTP session, if one was opened."""
        if self._http is not None:
            await self._http.close()

    async def __aenter__(self) -> SourceContext:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
