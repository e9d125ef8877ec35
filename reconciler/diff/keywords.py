"""The JSON Schema vocabulary the schema comparison knows, and the rules for its leaf keywords:
what a change of ``type``, ``enum``, a bound or a pattern means for the readers on each side.

Each rule takes the old and new value of one keyword (``MISSING`` when absent) and returns the
changes, with ``breaks`` as seen from the top level (the walker flips sides under ``not``).
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from typing import Any

from .change import Breaks, Kind, Severity
from .values import MISSING, Delta, fmt, fmt_set, is_number, key_of, same

#: Keywords that hold one sub-schema.
SCHEMAS = frozenset(
    {
        "items",
        "additionalItems",
        "additionalProperties",
        "not",
        "if",
        "then",
        "else",
        "contains",
        "propertyNames",
        "unevaluatedItems",
        "unevaluatedProperties",
    }
)
#: Keywords that hold a list of sub-schemas (``items`` in its draft-07 tuple form too).
SCHEMA_LISTS = frozenset({"allOf", "anyOf", "oneOf", "prefixItems", "items"})
#: Keywords that hold a mapping of names to sub-schemas.
SCHEMA_MAPS = frozenset(
    {"properties", "patternProperties", "dependentSchemas", "dependencies", "definitions", "$defs"}
)
#: Keywords that only hold definitions for ``$ref``; they are compared where they are used.
DEFINITIONS = frozenset({"definitions", "$defs"})
#: Annotations: no validator decides with them, but the model reads them (``$comment`` aside).
ANNOTATIONS = frozenset(
    {
        "$comment",
        "$id",
        "$schema",
        "$anchor",
        "id",
        "title",
        "description",
        "examples",
        "default",
        "deprecated",
        "readOnly",
        "writeOnly",
    }
)
#: Annotations that reach neither the model nor a parser in a way that changes anything.
COSMETIC = frozenset({"$comment"})

#: Lower bounds: a larger value tightens (old documents may fail), a smaller one loosens.
LOWER_BOUNDS = (
    "minimum",
    "exclusiveMinimum",
    "minLength",
    "minItems",
    "minProperties",
    "minContains",
)
#: Upper bounds: a smaller value tightens, a larger one loosens.
UPPER_BOUNDS = (
    "maximum",
    "exclusiveMaximum",
    "maxLength",
    "maxItems",
    "maxProperties",
    "maxContains",
)

JSON_TYPES = frozenset({"string", "number", "integer", "boolean", "object", "array", "null"})

Rule = Callable[[Any, Any, str], list[Delta]]

OLD, NEW, BOTH = Breaks.READERS_OF_OLD, Breaks.READERS_OF_NEW, Breaks.BOTH


def kind_of(old: Any, new: Any) -> Kind:
    """ADDED when the keyword is new, REMOVED when it is gone, else CHANGED."""
    if old is MISSING:
        return Kind.ADDED
    return Kind.REMOVED if new is MISSING else Kind.CHANGED


def breaking(path: str, kind: Kind, summary: str, breaks: Breaks) -> Delta:
    """A breaking schema change."""
    return Delta(path, kind, Severity.BREAKING, summary, breaks)


def name_of(path: str) -> str:
    """The keyword at the end of a dotted path."""
    return path.rsplit(".", 1)[-1]


def types(value: Any) -> frozenset[str]:
    """The JSON types a ``type`` keyword admits (all of them when it is absent)."""
    if value is MISSING:
        return JSON_TYPES
    if isinstance(value, str):
        return frozenset({value})
    if isinstance(value, list):
        return frozenset(v for v in value if isinstance(v, str))
    return JSON_TYPES


def _uncovered(side: frozenset[str], other: frozenset[str]) -> frozenset[str]:
    """The types of ``side`` that ``other`` does not admit (an integer is a number)."""
    return frozenset(
        t for t in side if t not in other and not (t == "integer" and "number" in other)
    )


def _fmt_types(value: Any) -> str:
    """``string|null`` as written (absent: ``any``)."""
    if isinstance(value, list):
        return "|".join(str(v) for v in value)
    return "any" if value is MISSING else str(value)


def type_rule(old: Any, new: Any, path: str) -> list[Delta]:
    """A type narrowed breaks readers of new (old documents fail), widened readers of old."""
    old_types, new_types = types(old), types(new)
    narrowed, widened = _uncovered(old_types, new_types), _uncovered(new_types, old_types)
    if not narrowed and not widened:
        return []
    what = f"{_fmt_types(old)} -> {_fmt_types(new)}"
    if narrowed and widened:
        return [breaking(path, kind_of(old, new), f"type changed: {what}", BOTH)]
    if narrowed:
        return [breaking(path, kind_of(old, new), f"type narrowed: {what}", NEW)]
    return [breaking(path, kind_of(old, new), f"type widened: {what}", OLD)]


def enum_rule(old: Any, new: Any, path: str) -> list[Delta]:
    """A value removed fails old documents (readers of new); one added fails old readers."""
    if old is MISSING or new is MISSING or not isinstance(old, list) or not isinstance(new, list):
        return assertion_rule(old, new, path)
    old_keys = {key_of(v): v for v in old}
    new_keys = {key_of(v): v for v in new}
    removed = [v for k, v in old_keys.items() if k not in new_keys]
    added = [v for k, v in new_keys.items() if k not in old_keys]
    out = []
    if removed:
        plural = "s" if len(removed) > 1 else ""
        summary = f"enum value{plural} removed: {fmt_set(removed)}"
        out.append(breaking(path, Kind.REMOVED, summary, NEW))
    if added:
        plural = "s" if len(added) > 1 else ""
        out.append(breaking(path, Kind.ADDED, f"enum value{plural} added: {fmt_set(added)}", OLD))
    return out


def assertion_rule(old: Any, new: Any, path: str) -> list[Delta]:
    """A constraint added narrows (readers of new), removed widens (readers of old), and
    replaced by another does both unless a rule knows better."""
    name = name_of(path)
    if same(old, new):
        return []
    if old is MISSING:
        return [breaking(path, Kind.ADDED, f"{name} added: {fmt(new)}", NEW)]
    if new is MISSING:
        return [breaking(path, Kind.REMOVED, f"{name} removed (was {fmt(old)})", OLD)]
    return [breaking(path, Kind.CHANGED, f"{name} changed: {fmt(old)} -> {fmt(new)}", BOTH)]


def _bound(lower: bool) -> Rule:
    def rule(old: Any, new: Any, path: str) -> list[Delta]:
        name = name_of(path)
        if same(old, new):
            return []
        if old is MISSING:
            return [breaking(path, Kind.ADDED, f"{name} added: {fmt(new)} (tightened)", NEW)]
        if new is MISSING:
            summary = f"{name} removed (was {fmt(old)}, loosened)"
            return [breaking(path, Kind.REMOVED, summary, OLD)]
        if not (is_number(old) and is_number(new)):  # draft-04 boolean exclusiveMinimum
            flag = bool(new) if isinstance(new, bool) else None
            side = BOTH if flag is None else (NEW if flag else OLD)
            return [breaking(path, Kind.CHANGED, f"{name} {fmt(old)} -> {fmt(new)}", side)]
        tighter = new > old if lower else new < old
        word, side = ("tightened", NEW) if tighter else ("loosened", OLD)
        return [breaking(path, Kind.CHANGED, f"{name} {word}: {fmt(old)} -> {fmt(new)}", side)]

    return rule


def multiple_of_rule(old: Any, new: Any, path: str) -> list[Delta]:
    """``multipleOf`` 10 -> 5 loosens (every multiple of 10 is one of 5); 5 -> 10 tightens."""
    if not (is_number(old) and is_number(new)) or same(old, new) or not old or not new:
        return assertion_rule(old, new, path)
    old_f, new_f = Fraction(str(old)), Fraction(str(new))
    what = f"{fmt(old)} -> {fmt(new)}"
    if (old_f / new_f).denominator == 1:
        return [breaking(path, Kind.CHANGED, f"multipleOf loosened: {what}", OLD)]
    if (new_f / old_f).denominator == 1:
        return [breaking(path, Kind.CHANGED, f"multipleOf tightened: {what}", NEW)]
    return [breaking(path, Kind.CHANGED, f"multipleOf changed: {what}", BOTH)]


def unique_items_rule(old: Any, new: Any, path: str) -> list[Delta]:
    """``uniqueItems: true`` added narrows; removed (or false) widens."""
    was, now = old is True, new is True
    if was == now:
        return []
    if now:
        return [breaking(path, kind_of(old, new), "uniqueItems now required", NEW)]
    return [breaking(path, kind_of(old, new), "uniqueItems no longer required", OLD)]


def annotation_rule(old: Any, new: Any, path: str) -> list[Delta]:
    """Annotations do not validate, but the model reads them: behavioral (``$comment``:
    cosmetic, only people read it)."""
    name = name_of(path)
    severity = Severity.COSMETIC if name in COSMETIC else Severity.BEHAVIORAL
    if same(old, new):
        return []
    if old is MISSING:
        return [Delta(path, Kind.ADDED, severity, f"{name} added: {fmt(new, 50)}")]
    if new is MISSING:
        return [Delta(path, Kind.REMOVED, severity, f"{name} removed (was {fmt(old, 50)})")]
    summary = f"{name} changed: {fmt(old, 50)} -> {fmt(new, 50)}"
    return [Delta(path, Kind.CHANGED, severity, summary)]


def unknown_rule(old: Any, new: Any, path: str) -> list[Delta]:
    """A keyword we do not know (a vendor extension such as ``strict``): the model still reads
    it, so behavioral."""
    return annotation_rule(old, new, path)


#: The rule for each leaf keyword; keywords holding sub-schemas are walked by ``schema.py``.
LEAF_RULES: dict[str, Rule] = {
    "type": type_rule,
    "enum": enum_rule,
    "const": assertion_rule,
    "multipleOf": multiple_of_rule,
    "uniqueItems": unique_items_rule,
    **{
        name: assertion_rule
        for name in ("pattern", "format", "contentEncoding", "contentMediaType")
    },
    **dict.fromkeys(LOWER_BOUNDS, _bound(lower=True)),
    **dict.fromkeys(UPPER_BOUNDS, _bound(lower=False)),
    **dict.fromkeys(ANNOTATIONS, annotation_rule),
}
