"""I/O adapters to the backends that hold effective config: one :class:`Source` per target.

Sources read and write raw bytes and raise the ``SourceError`` family; they never parse, diff or
classify. :func:`open_source` picks the adapter for a target (see :mod:`.registry`).
"""

from .interface import (
    Health,
    InvalidResponse,
    NotFound,
    PermanentError,
    Source,
    SourceError,
    SyncSource,
    TransientError,
    Unauthorized,
    threaded,
)
from .registry import DEFAULT_MAX_BODY, SourceContext, open_health, open_source

__all__ = [
    "DEFAULT_MAX_BODY",
    "Health",
    "InvalidResponse",
    "NotFound",
    "PermanentError",
    "Source",
    "SourceContext",
    "SourceError",
    "SyncSource",
    "TransientError",
    "Unauthorized",
    "open_health",
    "open_source",
    "threaded",
]
