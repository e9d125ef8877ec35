"""I/O adapters to the backends that hold effective config: one :class:`Source` per target.

Sources read what a target holds (raw bytes of a rendered bundle, or the components a backend
keeps one by one, digested as the audit would) and raise the ``SourceError`` family; they never
diff or classify. :func:`open_source` picks the adapter for a target (see :mod:`.registry`).
"""

from .context import DEFAULT_MAX_BODY, SourceContext
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
from .registry import open_health, open_source

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
