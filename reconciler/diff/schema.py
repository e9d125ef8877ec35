"""Compare two JSON Schemas (a tool's arguments, an agent's output) and say what each difference
means for readers on either side (design §6): validation both ways under Confluent's LENIENT
policy, plus field presence (a property removed or renamed breaks the code that reads it).

The walker visits both schemas in step, keyword by keyword, with local ``$ref`` resolved; leaf
keywords follow the rules in :mod:`.keywords`. Where the combinators of a schema are reshaped
(``allOf``/``anyOf``/``oneOf`` appearing, vanishing, switching kind or changing their number of
branches), the walk's verdict is checked against :mod:`.subschema` both ways: a side whose
inclusion is shown breaks no reader on validation grounds (field presence still counts). Where
nothing can be shown (``if`` too), the change stays breaking: never falsely compatible.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from .change import Kind, Severity
from .keywords import (
    BOTH,
    DEFINITIONS,
    LEAF_RULES,
    NEW,
    OLD,
    SCHEMAS,
    assertion_rule,
    breaking,
    kind_of,
    unknown_rule,
)
from .objects import ObjectRules
from .refs import Resolver
from .subschema import Subsumption
from .values import MISSING, Delta, join, key_of, ordering, same

_Active = frozenset[tuple[tuple[str, ...], tuple[str, ...]]]
_KEYED = frozenset({"dependencies", "dependentRequired", "dependentSchemas", "patternProperties"})
_COMBINATORS = frozenset({"allOf", "anyOf", "oneOf"})


def compare_schema(
    old: Any, new: Any, path: str = "", *, old_document: Any = None, new_document: Any = None
) -> list[Delta]:
    """The changes from schema ``old`` to ``new``, at dotted paths under ``path``.

    ``old_document``/``new_document`` are the files the schemas sit in (a tool's JSON), tried
    after the schema itself when resolving a ``$ref``.
    """
    old_roots = (old,) if old_document is None else (old, old_document)
    new_roots = (new,) if new_document is None else (new, new_document)
    walker = SchemaWalker(Resolver(*old_roots), Resolver(*new_roots))
    walker.schema(old, new, path)
    if not walker.out and not same(old, new):
        summary = "schema rewritten with the same meaning ($ref, definitions or equivalent forms)"
        walker.out.append(Delta(path, Kind.CHANGED, Severity.COSMETIC, summary))
    return sorted(walker.out, key=ordering)


def is_subschema(a: Any, b: Any, *, a_document: Any = None, b_document: Any = None) -> bool:
    """Whether every value valid under schema ``a`` is shown to be valid under ``b`` (local
    ``$ref`` resolved against the schema, then its document). ``False`` means "not shown"."""
    left = Resolver(a) if a_document is None else Resolver(a, a_document)
    right = Resolver(b) if b_document is None else Resolver(b, b_document)
    return _subsumption(left, right, 0).check(a, b)


def _subsumption(left: Resolver, right: Resolver, depth: int) -> Subsumption:
    def plain(a: Any, b: Any, at: int) -> bool:
        walker = SchemaWalker(left, right, at)
        walker.schema(a, b, "")
        return not any(
            d.severity is Severity.BREAKING and d.breaks in (NEW, BOTH) for d in walker.out
        )

    return Subsumption(left, right, plain, depth)


def _lists(schema: dict[str, Any]) -> dict[str, list[Any]]:
    return {k: v for k, v in schema.items() if k in _COMBINATORS and isinstance(v, list)}


def _reshape(old: dict[str, Any], new: dict[str, Any]) -> str:
    """How the combinators of two schemas differ in shape (``""`` when they line up)."""
    was, now = _lists(old), _lists(new)
    if was.keys() != now.keys():
        before = "+".join(sorted(was)) or "no combinator"
        after = "+".join(sorted(now)) or "no combinator"
        return f"{before} -> {after}"
    for keyword in sorted(was):
        o = {key_of(x) for x in was[keyword]}
        n = {key_of(x) for x in now[keyword]}
        if len(o - n) != len(n - o):
            return f"{keyword}: {_branches(len(was[keyword]))} -> {len(now[keyword])}"
    return ""


def _branches(count: int) -> str:
    return f"{count} branch{'' if count == 1 else 'es'}"


class SchemaWalker(ObjectRules):
    """Walks two schemas in step and collects their changes in ``out``."""

    def __init__(self, old: Resolver, new: Resolver, depth: int = 0) -> None:
        self.old, self.new, self.depth = old, new, depth
        self.out: list[Delta] = []

    def emit(self, deltas: list[Delta], flip: bool) -> None:
        """Record changes; under ``not`` the side a change breaks is the other one."""
        for delta in deltas:
            if flip and delta.breaks in (OLD, NEW):
                delta = replace(delta, breaks=NEW if delta.breaks is OLD else OLD)
            self.out.append(delta)

    def schema(
        self, old: Any, new: Any, path: str, flip: bool = False, active: _Active = frozenset()
    ) -> None:
        """Compare two (sub-)schemas; an absent sub-schema and ``true`` both admit anything."""
        old, old_chain = self.old.resolve({} if old is MISSING or old is True else old)
        new, new_chain = self.new.resolve({} if new is MISSING or new is True else new)
        if old is True:
            old = {}
        if new is True:
            new = {}
        if not (isinstance(old, dict) and isinstance(new, dict)):
            self._not_both_objects(old, new, path, flip)
            return
        if old_chain or new_chain:  # reached through $ref: stop where a cycle comes back
            key = (old_chain, new_chain)
            if key in active:
                return
            active = active | {key}
        reshape = _reshape(old, new)
        if reshape:
            saved, self.out = self.out, []
            self._keywords(old, new, path, flip, active)
            found, self.out = self.out, saved
            self._judge(found, old, new, path, flip, reshape)
            return
        self._keywords(old, new, path, flip, active)

    def _keywords(
        self, old: dict[str, Any], new: dict[str, Any], path: str, flip: bool, active: _Active
    ) -> None:
        object_done = False
        for keyword in sorted(old.keys() | new.keys()):
            if keyword in DEFINITIONS:
                continue
            if keyword in ("properties", "required"):
                if not object_done:
                    self.object(old, new, path, flip, active)
                    object_done = True
                continue
            self.keyword(keyword, old, new, path, flip, active)

    def _judge(
        self,
        found: list[Delta],
        old: dict[str, Any],
        new: dict[str, Any],
        path: str,
        flip: bool,
        reshape: str,
    ) -> None:
        """Keep the walk's changes under reshaped combinators, minus the validation breaks a
        subsumption check disproves; one change at ``path`` says what the check showed."""
        forward = _subsumption(self.old, self.new, self.depth + 1).check(old, new)
        backward = _subsumption(self.new, self.old, self.depth + 1).check(new, old)
        cleared = set()  # the sides (as emitted, so flipped under `not`) no value breaks
        if forward:
            cleared.add(OLD if flip else NEW)
        if backward:
            cleared.add(NEW if flip else OLD)
        dropped = False
        for delta in found:
            if delta.severity is not Severity.BREAKING or delta.breaks is None:
                self.out.append(delta)
                continue
            sides = {OLD, NEW} if delta.breaks is BOTH else {delta.breaks}
            left = sides - cleared
            if delta.presence:  # field presence breaks old readers whatever validation says
                left |= {NEW if flip else OLD} & sides
            if left == sides:
                self.out.append(delta)
            elif left:
                self.out.append(replace(delta, breaks=left.pop()))
                dropped = True
            else:
                dropped = True
        if not dropped:
            return
        if forward and backward:
            summary = f"{reshape}: accepts the same values"
            self.out.append(Delta(path, Kind.CHANGED, Severity.COMPATIBLE, summary))
        elif forward:
            summary = f"{reshape}: widened (every value valid before is still valid)"
            self.emit([breaking(path, Kind.CHANGED, summary, OLD)], flip)
        else:
            summary = f"{reshape}: narrowed (every value valid now was valid before)"
            self.emit([breaking(path, Kind.CHANGED, summary, NEW)], flip)

    def _not_both_objects(self, old: Any, new: Any, path: str, flip: bool) -> None:
        if same(old, new):
            return
        if new is False:
            delta = breaking(path, Kind.CHANGED, "schema now rejects every value", NEW)
        elif old is False:
            delta = breaking(path, Kind.CHANGED, "schema no longer rejects every value", OLD)
        else:
            delta = breaking(path, Kind.CHANGED, "schema replaced by a non-schema value", BOTH)
        self.emit([delta], flip)

    def keyword(
        self,
        keyword: str,
        old: dict[str, Any],
        new: dict[str, Any],
        path: str,
        flip: bool,
        active: _Active,
    ) -> None:
        """Compare one keyword of two resolved schemas."""
        o, n = old.get(keyword, MISSING), new.get(keyword, MISSING)
        sub = join(path, keyword)
        if keyword in LEAF_RULES:
            self.emit(LEAF_RULES[keyword](o, n, sub), flip)
        elif keyword == "$ref":  # left unresolved: remote or dangling
            self.emit(assertion_rule(o, n, sub), flip)
        elif keyword == "additionalProperties":
            self.additional_properties(o, n, sub, flip, active)
        elif keyword == "not":
            self.schema(o, n, sub, not flip, active)
        elif keyword in _COMBINATORS:
            self.combinator(keyword, o, n, sub, flip, active)
        elif keyword in ("items", "prefixItems") and (isinstance(o, list) or isinstance(n, list)):
            rest = "additionalItems" if keyword == "items" else "items"
            self.positional(o, n, old.get(rest, True), new.get(rest, True), sub, flip, active)
        elif keyword == "if":
            if not same(self.old.expand(o), self.new.expand(n)):
                summary = "if changed (conditional schemas not analysed yet)"
                self.emit([breaking(sub, kind_of(o, n), summary, BOTH)], flip)
        elif keyword in SCHEMAS:
            self.schema(o, n, sub, flip, active)
        elif keyword == "patternProperties":
            self.pattern_properties(old, new, sub, flip, active)
        elif keyword in _KEYED:
            self.keyed(o, n, sub, flip, active)
        else:
            self.emit(unknown_rule(o, n, sub), flip)

    def positional(
        self,
        old: Any,
        new: Any,
        old_rest: Any,
        new_rest: Any,
        path: str,
        flip: bool,
        active: _Active,
    ) -> None:
        """Tuple validation: position ``i`` of one side against position ``i`` (or the schema
        for further items) of the other."""
        if isinstance(old, dict) or isinstance(new, dict):
            summary = "items changed between one schema and a list of schemas"
            self.emit([breaking(path, Kind.CHANGED, summary, BOTH)], flip)
            return
        old_list = old if isinstance(old, list) else []
        new_list = new if isinstance(new, list) else []
        for index in range(max(len(old_list), len(new_list))):
            o = old_list[index] if index < len(old_list) else old_rest
            n = new_list[index] if index < len(new_list) else new_rest
            self.schema(o, n, join(path, index), flip, active)

    def keyed(self, old: Any, new: Any, path: str, flip: bool, active: _Active) -> None:
        """``dependencies``, ``dependentRequired``/``Schemas``, ``patternProperties``: one
        entry per name or pattern; an absent entry constrains nothing."""
        old_map = old if isinstance(old, dict) else {}
        new_map = new if isinstance(new, dict) else {}
        for name in sorted(old_map.keys() | new_map.keys()):
            o, n = old_map.get(name, MISSING), new_map.get(name, MISSING)
            sub = join(path, name)
            if isinstance(o, list) or isinstance(n, list):
                self.dependent_required(o, n, sub, flip)
            else:
                self.schema(o, n, sub, flip, active)

    def pattern_properties(
        self, old: dict[str, Any], new: dict[str, Any], path: str, flip: bool, active: _Active
    ) -> None:
        """Patterns present on both sides are compared; a pattern that appears on a closed
        object (``additionalProperties: false``) constrains only the named properties it
        matches, one that vanishes from a closed object only those of the other side: each is
        checked for inclusion, and the keys it lets in are, under LENIENT, compatible."""
        old_map = old.get("patternProperties", MISSING)
        new_map = new.get("patternProperties", MISSING)
        old_map = old_map if isinstance(old_map, dict) else {}
        new_map = new_map if isinstance(new_map, dict) else {}
        for pattern in sorted(old_map.keys() | new_map.keys()):
            o, n = old_map.get(pattern, MISSING), new_map.get(pattern, MISSING)
            sub = join(path, pattern)
            appeared = o is MISSING and old.get("additionalProperties") is False
            vanished = n is MISSING and new.get("additionalProperties") is False
            if appeared and self._pattern_covers(pattern, old, n, self.old, self.new):
                summary = f"pattern {pattern} added to a closed object (LENIENT: compatible)"
                self.emit([Delta(sub, Kind.ADDED, Severity.COMPATIBLE, summary)], flip)
                continue
            if vanished and self._pattern_covers(pattern, new, o, self.new, self.old):
                summary = f"pattern {pattern} removed from a closed object (LENIENT: compatible)"
                self.emit([Delta(sub, Kind.REMOVED, Severity.COMPATIBLE, summary)], flip)
                continue
            self.schema(o, n, sub, flip, active)

    def _pattern_covers(
        self,
        pattern: str,
        closed: dict[str, Any],
        other: Any,
        closed_resolver: Resolver,
        other_resolver: Resolver,
    ) -> bool:
        """Whether every named property of the ``closed`` side that ``pattern`` matches is
        shown to fit ``other`` (the pattern's schema on the other side)."""
        try:
            regex = re.compile(pattern)
        except re.error:
            return False
        props = closed.get("properties")
        props = props if isinstance(props, dict) else {}
        check = _subsumption(closed_resolver, other_resolver, self.depth + 1).check
        for name, schema in props.items():
            if regex.search(name) and not check(schema, other):
                return False
        return True

    def dependent_required(self, old: Any, new: Any, path: str, flip: bool) -> None:
        """Names that must come along with a property: more narrows, fewer widens."""
        if not all(isinstance(v, list) or v is MISSING for v in (old, new)):
            self.emit([breaking(path, Kind.CHANGED, "dependency changed form", BOTH)], flip)
            return
        was = set() if old is MISSING else {v for v in old if isinstance(v, str)}
        now = set() if new is MISSING else {v for v in new if isinstance(v, str)}
        name = path.rsplit(".", 1)[-1]
        if now - was:
            summary = f"{name} now requires: {', '.join(sorted(now - was))}"
            self.emit([breaking(path, Kind.ADDED, summary, NEW)], flip)
        if was - now:
            summary = f"{name} no longer requires: {', '.join(sorted(was - now))}"
            self.emit([breaking(path, Kind.REMOVED, summary, OLD)], flip)

    def combinator(
        self, keyword: str, old: Any, new: Any, path: str, flip: bool, active: _Active
    ) -> None:
        """``allOf``/``anyOf``/``oneOf``: equal branches matched in any order, the rest
        compared position by position, or judged by whether branches were added or removed."""
        if not (isinstance(old, list) and isinstance(new, list)):
            if same(old, new):
                return
            # A constraint that appears narrows; one that goes widens (not whether it is
            # implied by the rest of the schema: that is for subsumption checking, later).
            word = {Kind.ADDED: "added", Kind.REMOVED: "removed"}.get(kind_of(old, new), "changed")
            side = {Kind.ADDED: NEW, Kind.REMOVED: OLD}.get(kind_of(old, new), BOTH)
            self.emit([breaking(path, kind_of(old, new), f"{keyword} {word}", side)], flip)
            return
        old_left = self._distinct(old, self.old)
        new_left = self._distinct(new, self.new)
        for j, n_key in list(new_left.items()):
            i = next((i for i, o_key in old_left.items() if o_key == n_key), None)
            if i is not None:
                del old_left[i], new_left[j]
                self.schema(old[i], new[j], join(path, j), flip, active)  # annotations only
        if len(old_left) == len(new_left):
            for i, j in zip(old_left, new_left, strict=True):
                self.schema(old[i], new[j], join(path, j), flip, active)
            return
        widens = keyword != "allOf"  # another alternative admits more; another conjunct less
        if not old_left:
            kind, side = Kind.ADDED, OLD if widens else NEW
            summary = f"{keyword}: {_branches(len(new_left))} added"
        elif not new_left:
            kind, side = Kind.REMOVED, NEW if widens else OLD
            summary = f"{keyword}: {_branches(len(old_left))} removed"
        else:
            kind, side = Kind.CHANGED, BOTH
            summary = f"{keyword}: {_branches(len(old_left))} replaced by {len(new_left)}"
        self.emit([breaking(path, kind, summary, side)], flip)

    @staticmethod
    def _distinct(branches: list[Any], resolver: Resolver) -> dict[int, Any]:
        """Index -> comparable form of each branch, duplicates dropped (they add nothing)."""
        seen: dict[Any, int] = {}
        for index, branch in enumerate(branches):
            seen.setdefault(key_of(resolver.expand(branch)), index)
        return {index: key for key, index in seen.items()}
