"""Diff two rendered bundles' components: gate on component digests, then diff only the
components that differ, and return every change sorted by component and path.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..canonical import digest
from .change import Change, Kind
from .components import component_presence, diff_component
from .values import Delta


def _digest_of(key: str, value: Any, digests: Mapping[str, str] | None) -> str | None:
    if digests is not None and key in digests:
        return digests[key]
    try:
        return digest(value)
    except ValueError:  # NaN or infinity: not canonical JSON; compare the values themselves
        return None


def sort_key(change: Change) -> tuple[str, str, str, int, str]:
    """Component, then path, then kind; the worse severity first; then the summary."""
    return (change.component, change.path, change.kind.value, -change.severity.rank, change.summary)


def _changes(component: str, deltas: Iterable[Delta]) -> list[Change]:
    return [
        Change(component, d.path, d.kind, d.severity, d.summary, d.breaks, d.lines) for d in deltas
    ]


def diff_bundle(
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    old_digests: Mapping[str, str] | None = None,
    new_digests: Mapping[str, str] | None = None,
) -> list[Change]:
    """The changes from ``old`` (what a target runs) to ``new`` (what is desired).

    Both are a rendered bundle's ``components``; ``old_digests``/``new_digests`` are their
    component digests when the caller has them (computed here otherwise). Components with
    equal digests are skipped without being looked at.
    """
    changes: list[Change] = []
    for key in sorted(old.keys() | new.keys()):
        if key not in new:
            changes.extend(_changes(key, [component_presence(key, Kind.REMOVED)]))
        elif key not in old:
            changes.extend(_changes(key, [component_presence(key, Kind.ADDED)]))
        else:
            before = _digest_of(key, old[key], old_digests)
            after = _digest_of(key, new[key], new_digests)
            if before is None or before != after:
                changes.extend(_changes(key, diff_component(key, old[key], new[key])))
    changes.sort(key=sort_key)
    return changes
