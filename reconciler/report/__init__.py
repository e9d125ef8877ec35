"""Formats of an audit: text for people, JSON for machines, markdown and GitHub for CI.

Formats are a closed set (:data:`FORMATS`); :func:`format_audit` builds each one's text.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..audit.results import Audit

FORMATS = ("text", "json", "markdown", "github")


def format_audit(result: Audit, fmt: str, failures: list[str], repo: Path) -> str:
    """``result`` as ``fmt`` (one of :data:`FORMATS`); ``repo`` locates files for annotations."""
    if fmt == "json":
        import orjson

        return orjson.dumps(result.to_json(), option=orjson.OPT_INDENT_2).decode("utf-8")
    if fmt == "markdown":
        from .markdown import render_markdown

        return render_markdown(result, result.tags, failures)
    if fmt == "github":
        from ..audit.locate import Locator
        from ..bundle.gitrepo import GitFiles, repo_at
        from .github import render_github

        locator = Locator(GitFiles(repo_at(repo), result.desired_revision))
        return render_github(result, result.tags, failures, locator)
    if fmt != "text":
        raise ValueError(f"unknown format {fmt!r}")
    from .text import render_text

    return render_text(result, result.tags, failures)
