"""Subsumption under reshaped combinators: ``is_subschema`` and how the walker uses it."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.diff import Breaks, Severity, compare_schema, is_subschema

S, N, NULL = {"type": "string"}, {"type": "number"}, {"type": "null"}


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (S, {"anyOf": [N, S]}, True),
        ({"anyOf": [N, S]}, S, False),
        (S, {"oneOf": [N, S]}, True),  # disjoint types: exactly one branch matches
        (S, {"oneOf": [S, {"type": "string", "maxLength": 3}]}, False),  # both could match
        ({"allOf": [S]}, {"anyOf": [S]}, True),
        ({"allOf": [N, S]}, {"oneOf": [S]}, True),  # a conjunct is enough
        ({"oneOf": [S]}, {"allOf": [S]}, True),
        (S, {"allOf": [S, {"maxLength": 3}]}, False),
        ({"type": "string", "maxLength": 3}, {"oneOf": [N, S]}, True),
        ({"oneOf": [S, N]}, {"anyOf": [S, N, NULL]}, True),
        ({"anyOf": [S, N, NULL]}, {"oneOf": [S, N]}, False),
        (False, S, True),
        (S, True, True),
        (
            {"$defs": {"s": S}, "anyOf": [{"$ref": "#/$defs/s"}]},
            {"oneOf": [{"$ref": "#/$defs/t"}, N], "$defs": {"t": S}},
            True,
        ),
    ],
)
def test_is_subschema(a: Any, b: Any, expected: bool) -> None:
    assert is_subschema(a, b) is expected


def _breaking(old: Any, new: Any) -> set[Breaks | None]:
    return {d.breaks for d in compare_schema(old, new) if d.severity is Severity.BREAKING}


def test_moving_into_a_union_that_holds_the_old_schema_breaks_readers_of_old_only() -> None:
    old = {"type": "object", "properties": {"p": S}}
    new = {"type": "object", "properties": {"p": {"oneOf": [N, S]}}}
    assert _breaking(old, new) == {Breaks.READERS_OF_OLD}
    assert _breaking(new, old) == {Breaks.READERS_OF_NEW}
    summaries = [d.summary for d in compare_schema(old, new)]
    assert any("widened" in s for s in summaries)


def test_equivalent_reshape_is_compatible() -> None:
    changes = compare_schema({"oneOf": [S]}, {"allOf": [S]})
    assert [(d.severity, d.summary) for d in changes] == [
        (Severity.COMPATIBLE, "oneOf -> allOf: accepts the same values")
    ]


def test_unproven_reshape_stays_breaking_both_ways() -> None:
    old, new = {"oneOf": [S]}, {"oneOf": [{"type": "string", "maxLength": 3}, N]}
    assert Breaks.BOTH in _breaking(old, new)


def test_field_presence_survives_a_reshape() -> None:
    old = {"type": "object", "properties": {"a": S}}
    new = {"allOf": [{"type": "object", "properties": {"b": S}}]}
    removed = [d for d in compare_schema(old, new) if d.summary == "property removed: a"]
    assert [d.breaks for d in removed] == [Breaks.READERS_OF_OLD]


def test_under_not_the_sides_swap() -> None:
    old, new = {"not": S}, {"not": {"anyOf": [S, N]}}
    assert _breaking(old, new) == {Breaks.READERS_OF_NEW}


def test_pattern_on_a_closed_object_checks_only_the_names_it_matches() -> None:
    old = {"properties": {"foo": S, "I_1": {"type": "integer"}}, "additionalProperties": False}
    fits = {**old, "patternProperties": {"^I_": N, "^S_": S}}
    assert _breaking(old, fits) == set()
    clash = {**old, "patternProperties": {"^I_": S}}
    assert _breaking(old, clash) == {Breaks.READERS_OF_NEW}
    assert _breaking(fits, old) == set()  # patterns gone from a closed object
    open_old = {"properties": {"foo": S}}
    assert Breaks.READERS_OF_NEW in _breaking(
        open_old, {**open_old, "patternProperties": {"^I_": N}}
    )
