"""Names that end up in component keys, file paths and URLs must be plain; URLs must be HTTP."""

from __future__ import annotations

import re

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")

#: :func:`check_name` as one JSON Schema pattern (no lookahead: a dot is never followed by one).
NAME_PATTERN = r"^[A-Za-z0-9](\.?[A-Za-z0-9_-])*\.?$"


def check_name(value: str, what: str) -> str:
    """Accept letters, digits, ``.``, ``_`` and ``-`` (no slashes, no leading dot)."""
    if not _NAME.match(value) or ".." in value:
        raise ValueError(f"{what} {value!r} may hold only letters, digits, '.', '_' and '-'")
    return value


def check_http_url(value: str) -> str:
    """Accept an ``http://`` or ``https://`` URL (targets, probes, health checks, gates)."""
    if not value.startswith(("http://", "https://")):
        raise ValueError("url must start with http:// or https://")
    return value
