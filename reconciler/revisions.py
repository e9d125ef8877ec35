"""How a person reads a revision, everywhere: ``v46 (1a2b3c4)`` when tagged, else ``1a2b3c4``."""

from __future__ import annotations

from collections.abc import Mapping

SHORT = 7  #: hex digits of a short sha, as git shows them


def revision_label(sha: str | None, tags: Mapping[str, str] | None = None) -> str:
    """``v46 (1a2b3c4)`` when the commit has a tag, else the short sha, else ``-``."""
    if not sha:
        return "-"
    tag = (tags or {}).get(sha)
    return f"{tag} ({sha[:SHORT]})" if tag else sha[:SHORT]
