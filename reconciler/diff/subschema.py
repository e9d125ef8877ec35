"""Subsumption for combinators: is every value valid under schema ``a`` also valid under ``b``?

Used where ``allOf``/``anyOf``/``oneOf`` appear, vanish, switch kind or change their number of
branches, which a keyword-by-keyword walk cannot judge. The check is sound and incomplete: it
says ``True`` only when it can show the inclusion, by taking the combinators apart:

- ``a`` = rest & (A1 | … | An) (``anyOf``; ``oneOf`` admits no more): every ``rest & Ai ⊆ b``,
  or ``rest ⊆ b``;
- ``b`` = rest & B1 & … & Bn (``allOf``): ``a ⊆ rest`` and every ``a ⊆ Bi``;
- ``a`` = rest & A1 & … & An (``allOf``): the conjunction merged, or any single conjunct ``⊆ b``;
- ``b`` = rest & (B1 | … | Bn): ``a ⊆ rest`` and some ``a ⊆ Bi``; for ``oneOf`` only when its
  branches admit pairwise disjoint types (or there is one branch), so "exactly one" holds.

Schemas without combinators at the top are judged by the caller's ``plain`` check (the schema
walker: no change that breaks readers of the right-hand side).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .keywords import ANNOTATIONS, DEFINITIONS, types
from .refs import Resolver
from .values import MISSING, same

COMBINATORS = ("allOf", "anyOf", "oneOf")
#: How deep combinators (and ``$ref`` through them) are taken apart before giving up (False).
MAX_DEPTH = 8

Plain = Callable[[Any, Any, int], bool]


def constraints(schema: dict[str, Any]) -> dict[str, Any]:
    """The keywords that validate (annotations and definitions dropped)."""
    return {k: v for k, v in schema.items() if k not in ANNOTATIONS and k not in DEFINITIONS}


def _without(schema: dict[str, Any], keyword: str) -> dict[str, Any]:
    return {k: v for k, v in schema.items() if k != keyword}


def _conjoin(left: dict[str, Any], right: Any) -> Any:
    """``left & right`` as one schema when their keywords do not clash, else just ``right``
    (a superset of the conjunction, so inclusions shown for it still hold)."""
    if not isinstance(right, dict):
        return right
    if all(k not in left or same(left[k], right[k]) for k in right):
        return {**left, **right}
    return right


def _disjoint(branches: list[Any], resolver: Resolver) -> bool:
    """Whether no value can match two branches: each admits its own JSON types only."""
    seen: list[frozenset[str]] = []
    for branch in branches:
        resolved, _ = resolver.resolve(branch)
        if not isinstance(resolved, dict):
            return False
        admitted = types(resolved.get("type", MISSING))
        if "number" in admitted:
            admitted = admitted | {"integer"}
        if "integer" in admitted:
            admitted = admitted | {"number"}
        if any(admitted & other for other in seen):
            return False
        seen.append(admitted)
    return True


class Subsumption:
    """``a`` lives in the document of ``left``, ``b`` in that of ``right``."""

    def __init__(self, left: Resolver, right: Resolver, plain: Plain, depth: int = 0) -> None:
        self.left, self.right, self.plain, self.depth = left, right, plain, depth

    def check(self, a: Any, b: Any, depth: int | None = None) -> bool:
        """Whether every value valid under ``a`` is valid under ``b`` (``False``: not shown)."""
        depth = self.depth if depth is None else depth
        if depth > MAX_DEPTH:
            return False
        a, _ = self.left.resolve({} if a is MISSING or a is True else a)
        b, _ = self.right.resolve({} if b is MISSING or b is True else b)
        if a is False or b is True or (isinstance(b, dict) and not constraints(b)):
            return True
        if not (isinstance(a, dict) and isinstance(b, dict)):
            return False
        if same(self.left.expand(a), self.right.expand(b)):
            return True
        a, b = constraints(a), constraints(b)
        if any(k in COMBINATORS and not isinstance(v, list) for k, v in (a | b).items()):
            return False
        return self._split(a, b, depth + 1)

    def _split(self, a: dict[str, Any], b: dict[str, Any], depth: int) -> bool:
        for union in ("anyOf", "oneOf"):
            if union in a:
                rest = _without(a, union)
                if constraints(rest) and self.check(rest, b, depth):
                    return True
                return all(self.check(_conjoin(rest, branch), b, depth) for branch in a[union])
        if "allOf" in b:
            rest = _without(b, "allOf")
            return self.check(a, rest, depth) and all(self.check(a, x, depth) for x in b["allOf"])
        if "allOf" in a:
            rest = _without(a, "allOf")
            merged: Any = rest
            for branch in a["allOf"]:
                merged = _conjoin(merged, branch) if isinstance(merged, dict) else merged
            if (
                isinstance(merged, dict)
                and len(merged)
                == len(rest) + sum(len(x) if isinstance(x, dict) else 0 for x in a["allOf"])
                and self.check(merged, b, depth)
            ):
                return True
            parts = [rest] if constraints(rest) else []
            return any(self.check(part, b, depth) for part in [*parts, *a["allOf"]])
        for union in ("anyOf", "oneOf"):
            if union in b:
                if union == "oneOf" and not (len(b[union]) == 1 or _disjoint(b[union], self.right)):
                    return False
                rest = _without(b, union)
                return self.check(a, rest, depth) and any(
                    self.check(a, branch, depth) for branch in b[union]
                )
        return self.plain(a, b, depth)
