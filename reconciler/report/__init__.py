"""Formats of an audit: text for people, JSON for machines, markdown and GitHub for CI.

Formats are a closed set; each is a function from an :class:`~reconciler.results.Audit` to text.
"""

from __future__ import annotations

FORMATS = ("text", "json", "markdown", "github")
