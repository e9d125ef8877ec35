"""Object rules of the schema comparison: properties removed, added, renamed or made required,
and ``additionalProperties`` opened or closed (LENIENT: content models count as open).

A rename is a property removed and one added in the same object whose schemas say the same
thing (descriptions aside): one change, ``old -> new``, never a removal plus an addition.
"""

from __future__ import annotations

import difflib
from dataclasses import replace
from typing import Any

from .change import Kind, Severity
from .keywords import BOTH, NEW, OLD, breaking, kind_of
from .refs import Resolver
from .values import MISSING, Delta, join, same


def _required(schema: dict[str, Any]) -> set[str]:
    value = schema.get("required")
    return {v for v in value if isinstance(v, str)} if isinstance(value, list) else set()


def _properties(schema: dict[str, Any]) -> dict[str, Any]:
    value = schema.get("properties")
    return value if isinstance(value, dict) else {}


def _openness(value: Any) -> str:
    if value is MISSING or value is True:
        return "open"
    return "closed" if value is False else "a schema"


class ObjectRules:
    """The object half of :class:`~reconciler.diff.schema.SchemaWalker`."""

    old: Resolver
    new: Resolver

    def schema(self, old: Any, new: Any, path: str, flip: bool, active: Any) -> None:
        """Compare two sub-schemas (the walker's own method)."""
        raise NotImplementedError

    def emit(self, deltas: list[Delta], flip: bool) -> None:
        """Record changes (the walker's own method)."""
        raise NotImplementedError

    def object(
        self, old: dict[str, Any], new: dict[str, Any], path: str, flip: bool, active: Any
    ) -> None:
        """``properties`` and ``required`` of two resolved object schemas."""
        old_props, new_props = _properties(old), _properties(new)
        old_req, new_req = _required(old), _required(new)
        props = join(path, "properties")
        removed = sorted(old_props.keys() - new_props.keys())
        added = sorted(new_props.keys() - old_props.keys())
        renames = self.renames(old_props, new_props, removed, added)
        for was, now in renames:
            sub = join(props, now)
            required = "required " if was in old_req else ""
            side = BOTH if now in new_req else OLD
            summary = f"{required}property renamed: {was} -> {now}"
            self.emit([replace(breaking(sub, Kind.CHANGED, summary, side), presence=True)], flip)
            self.schema(old_props[was], new_props[now], sub, flip, active)  # descriptions
        renamed_old = {was for was, _ in renames}
        renamed_new = {now for _, now in renames}
        for name in removed:
            if name not in renamed_old:
                self._removed(name, old_props[name], new, old_req, join(props, name), flip, active)
        for name in added:
            if name not in renamed_new:
                self._added(name, new_props[name], old, new_req, join(props, name), flip, active)
        for name in sorted(old_props.keys() & new_props.keys()):
            sub = join(props, name)
            self.schema(old_props[name], new_props[name], sub, flip, active)
            if name in new_req and name not in old_req:
                summary = f"property made required: {name}"
                self.emit([breaking(sub, Kind.CHANGED, summary, NEW)], flip)
            elif name in old_req and name not in new_req:
                summary = f"property made optional: {name}"
                self.emit([breaking(sub, Kind.CHANGED, summary, OLD)], flip)
        self._loose_required(old_req, new_req, old_props.keys() | new_props.keys(), path, flip)

    def _removed(
        self,
        name: str,
        schema: Any,
        new: dict[str, Any],
        old_req: set[str],
        path: str,
        flip: bool,
        active: Any,
    ) -> None:
        # Validation passes (LENIENT), but code that reads the property finds nothing.
        required = "required " if name in old_req else ""
        summary = f"{required}property removed: {name}"
        self.emit([replace(breaking(path, Kind.REMOVED, summary, OLD), presence=True)], flip)
        rest = new.get("additionalProperties", MISSING)
        if isinstance(rest, dict):  # partially open: the name now validates against `rest`
            self.schema(schema, rest, path, flip, active)

    def _added(
        self,
        name: str,
        schema: Any,
        old: dict[str, Any],
        new_req: set[str],
        path: str,
        flip: bool,
        active: Any,
    ) -> None:
        if name in new_req:
            summary = f"required property added: {name}"
            self.emit([breaking(path, Kind.ADDED, summary, NEW)], flip)
        else:
            summary = f"optional property added: {name}"
            self.emit([Delta(path, Kind.ADDED, Severity.COMPATIBLE, summary)], flip)
        rest = old.get("additionalProperties", MISSING)
        if isinstance(rest, dict):  # partially open: the name used to validate against `rest`
            self.schema(rest, schema, path, flip, active)

    def _loose_required(
        self, old_req: set[str], new_req: set[str], defined: Any, path: str, flip: bool
    ) -> None:
        """Required names that no ``properties`` entry defines on either side."""
        sub = join(path, "required")
        for name in sorted((new_req - old_req) - defined):
            self.emit([breaking(sub, Kind.ADDED, f"property made required: {name}", NEW)], flip)
        for name in sorted((old_req - new_req) - defined):
            self.emit([breaking(sub, Kind.REMOVED, f"property made optional: {name}", OLD)], flip)

    def renames(
        self,
        old_props: dict[str, Any],
        new_props: dict[str, Any],
        removed: list[str],
        added: list[str],
    ) -> list[tuple[str, str]]:
        """Pairs (old name, new name) of removed and added properties with equal schemas; among
        several candidates, the most similar name wins (ties: the first in sorted order)."""
        if not removed or not added:
            return []
        shapes = {name: self.new.expand(new_props[name]) for name in added}
        pairs: list[tuple[str, str]] = []
        taken: set[str] = set()
        for was in removed:
            shape = self.old.expand(old_props[was])
            candidates = [now for now in added if now not in taken and same(shape, shapes[now])]
            if candidates:
                now = max(candidates, key=lambda c: difflib.SequenceMatcher(None, was, c).ratio())
                pairs.append((was, now))
                taken.add(now)
        return pairs

    def additional_properties(self, old: Any, new: Any, path: str, flip: bool, active: Any) -> None:
        """Two schemas are compared; opening or closing is compatible under LENIENT."""
        if isinstance(old, dict) and isinstance(new, dict):
            self.schema(old, new, path, flip, active)
            return
        before, after = _openness(old), _openness(new)
        if before == after == "open" or same(old, new):
            return
        summary = f"additionalProperties: {before} -> {after} (LENIENT: compatible)"
        self.emit([Delta(path, kind_of(old, new), Severity.COMPATIBLE, summary)], flip)
