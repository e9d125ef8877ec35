"""Which source serves a target: a closed mapping from ``source.type`` to a factory.

A new source type is added here and to the ``SourceSpec`` union together; a test keeps the two
in step. Opening a source checks its settings (``${VAR}`` references, path escapes, URLs) and
raises :class:`~reconciler.errors.ConfigError` naming the target, so a bad inventory fails before
any I/O. aiohttp is imported only when the first HTTP source or health check opens.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from ..variables import expand_headers
from .context import DEFAULT_MAX_BODY, SourceContext
from .file import FileSource
from .interface import Health, Source, threaded

if TYPE_CHECKING:
    from ..model.document import Document
    from ..model.inventory import FileSourceSpec, HealthSpec, HttpSourceSpec, TargetSpec

# SourceContext and DEFAULT_MAX_BODY live in .context (below every backend); they are re-exported
# here for callers that open sources.
__all__ = [
    "DEFAULT_MAX_BODY",
    "FACTORIES",
    "HealthCheck",
    "SourceContext",
    "SourceOpener",
    "open_health",
    "open_source",
]

HealthCheck = Callable[[], Awaitable[Health]]
#: How a run opens a target's source: :func:`open_source`, or a test's in-memory fleet.
SourceOpener = Callable[["TargetSpec", SourceContext], Source]


def _open_file(spec: FileSourceSpec, target: TargetSpec, ctx: SourceContext) -> Source:
    source = FileSource(ctx.repo_root, spec.path, target=target.name, max_body=ctx.max_body)
    return threaded(source, ctx.executor)


def _open_http(spec: HttpSourceSpec, target: TargetSpec, ctx: SourceContext) -> Source:
    http_source, resolve_url = _http()
    where = f"target {target.name}"
    source: Source = http_source(
        ctx.http,
        resolve_url(spec.url, ctx.env, where),
        headers=expand_headers(spec.headers, ctx.env, where) if spec.headers else {},
        timeout=spec.timeout,
        apply_method=spec.apply_method,
        max_body=ctx.max_body,
        stage_url=resolve_url(spec.stage_url, ctx.env, f"{where}: stage_url")
        if spec.stage_url
        else None,
        switch=spec.switch,
    )
    return source


@functools.cache
def _http() -> tuple[Any, Any]:
    """The http source and its URL check, imported when the first HTTP source opens (aiohttp
    loads then), once: not an import statement's lookups for every target."""
    from .http import HttpSource
    from .rest import resolve_url

    return HttpSource, resolve_url


def _open_s3(spec: Any, target: TargetSpec, ctx: SourceContext) -> Source:
    from .s3 import open_s3  # boto3 loads only when an s3 target exists

    return open_s3(spec, target, ctx)


def _open_mlflow(spec: Any, target: TargetSpec, ctx: SourceContext) -> Source:
    from .mlflow import open_mlflow

    return open_mlflow(spec, target, ctx)


def _open_unleash(spec: Any, target: TargetSpec, ctx: SourceContext) -> Source:
    from .unleash import open_unleash

    return open_unleash(spec, target, ctx)


#: Every ``source.type`` of the ``SourceSpec`` union, and how to open it (exhaustive: tested).
FACTORIES: Mapping[str, Callable[[Any, TargetSpec, SourceContext], Source]] = MappingProxyType(
    {
        "file": _open_file,
        "http": _open_http,
        "s3": _open_s3,
        "mlflow": _open_mlflow,
        "unleash": _open_unleash,
    }
)


def open_health(spec: HealthSpec, target: TargetSpec, ctx: SourceContext) -> HealthCheck:
    """The target's health check: one GET of ``spec.url``, healthy on 2xx."""
    from .rest import HttpHealthCheck, resolve_url

    where = f"target {target.name}: health"
    return HttpHealthCheck(
        ctx.http,
        resolve_url(spec.url, ctx.env, where),
        headers=expand_headers(spec.headers, ctx.env, where),
        timeout=spec.timeout,
    )


class _Checked:
    """A source whose ``health()`` is the target's own health check."""

    def __init__(self, source: Source, check: HealthCheck) -> None:
        self.source = source
        self._check = check

    def __repr__(self) -> str:
        return f"_Checked({self.source!r})"

    async def fetch(self, bundle: str) -> bytes | Document:
        return await self.source.fetch(bundle)

    async def apply(self, bundle: str, document: bytes) -> None:
        await self.source.apply(bundle, document)

    async def health(self) -> Health:
        return await self._check()

    async def close(self) -> None:
        await self.source.close()

    def staging(self) -> Any:
        """The wrapped source's stager (None: it stages nothing)."""
        inner = getattr(self.source, "staging", None)
        return inner() if callable(inner) else None


def open_source(target: TargetSpec, ctx: SourceContext) -> Source:
    """The source for ``target``; its ``health()`` runs ``target.health`` (ok when it has none)."""
    if target.source is None:
        raise ConfigError(
            f"target {target.name}: a devices target has no source (its manifests have)"
        )
    factory = FACTORIES.get(target.source.type)
    if factory is None:  # unreachable while FACTORIES covers SourceSpec (see the test)
        raise ConfigError(f"target {target.name}: unknown source type {target.source.type!r}")
    source = factory(target.source, target, ctx)
    if target.health is not None:
        return _Checked(source, open_health(target.health, target, ctx))
    return source
