"""The JSON Schema comparison: leaf keyword rules, ``$ref`` resolution, and the walker."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.diff import compare_schema
from reconciler.diff.change import Breaks, Kind, Severity
from reconciler.diff.keywords import LEAF_RULES, enum_rule, multiple_of_rule, type_rule, types
from reconciler.diff.refs import Resolver
from reconciler.diff.values import MISSING

OLD, NEW, BOTH = Breaks.READERS_OF_OLD, Breaks.READERS_OF_NEW, Breaks.BOTH


def _sides(old: Any, new: Any) -> list[tuple[str, Severity, Breaks | None]]:
    return [(d.path, d.severity, d.breaks) for d in compare_schema(old, new)]


@pytest.mark.parametrize(
    ("old", "new", "breaks"),
    [
        ("string", "string", None),
        (["string", "null"], "string", NEW),
        ("string", ["string", "null"], OLD),
        ("string", "number", BOTH),
        ("integer", "number", OLD),  # every integer is a number
        ("number", "integer", NEW),
        (MISSING, "string", NEW),
        ("object", MISSING, OLD),
        (["null", "string"], ["string", "null"], None),
    ],
)
def test_type_rule(old: Any, new: Any, breaks: Breaks | None) -> None:
    found = type_rule(old, new, "type")
    assert [d.breaks for d in found] == ([breaks] if breaks else [])


def test_types_of_absent_type_is_everything() -> None:
    assert "null" in types(MISSING) and len(types(MISSING)) == 7


def test_enum_rule_numbers_as_numbers_and_both_directions() -> None:
    assert enum_rule([1, 2], [2.0, 1.0], "enum") == []
    found = enum_rule(["a", "b"], ["b", "c"], "enum")
    assert [(d.kind, d.breaks, d.summary) for d in found] == [
        (Kind.REMOVED, NEW, "enum value removed: a"),
        (Kind.ADDED, OLD, "enum value added: c"),
    ]
    assert [d.breaks for d in enum_rule(MISSING, ["a"], "enum")] == [NEW]


@pytest.mark.parametrize(
    ("keyword", "old", "new", "breaks"),
    [
        ("minLength", 1, 5, NEW),
        ("minLength", 5, 1, OLD),
        ("maxItems", 10, 5, NEW),
        ("maxItems", 5, 10, OLD),
        ("maximum", MISSING, 10, NEW),
        ("minimum", 0, MISSING, OLD),
        ("exclusiveMinimum", MISSING, True, NEW),  # draft-04 boolean form
        ("exclusiveMinimum", True, False, OLD),
        ("pattern", "^a", "^b", BOTH),
        ("const", "red", "blue", BOTH),
        ("uniqueItems", MISSING, True, NEW),
        ("uniqueItems", True, False, OLD),
    ],
)
def test_leaf_rules(keyword: str, old: Any, new: Any, breaks: Breaks) -> None:
    (delta,) = LEAF_RULES[keyword](old, new, keyword)
    assert delta.severity is Severity.BREAKING
    assert delta.breaks is breaks


@pytest.mark.parametrize(
    ("old", "new", "breaks"), [(10, 5, OLD), (5, 10, NEW), (0.1, 0.05, OLD), (3, 5, BOTH)]
)
def test_multiple_of(old: float, new: float, breaks: Breaks) -> None:
    (delta,) = multiple_of_rule(old, new, "multipleOf")
    assert delta.breaks is breaks


def test_same_bound_written_differently_is_no_change() -> None:
    assert LEAF_RULES["maximum"](10, 10.0, "maximum") == []


def test_lookup() -> None:
    doc = {
        "$defs": {
            "a/b": {"x": 1},
            "t~n": {"allOf": [{}, {"type": "string"}]},
            "named": {"$anchor": "here", "type": "integer"},
            "item": {"$id": "item.json", "type": "string"},
        }
    }
    resolver = Resolver(doc)
    assert resolver.lookup("#")[0] is doc
    assert resolver.lookup("#/$defs/a~1b")[0] == {"x": 1}
    assert resolver.lookup("#/$defs/t~0n/allOf/1")[0] == {"type": "string"}
    assert resolver.lookup("#here")[0] == {"$anchor": "here", "type": "integer"}
    assert resolver.lookup("item.json")[0] == {"$id": "item.json", "type": "string"}
    assert resolver.lookup("#/$defs/missing")[0] is MISSING
    assert resolver.lookup("#nowhere")[0] is MISSING
    assert resolver.lookup("other.json#/x")[0] is MISSING  # nothing is retrieved
    assert resolver.lookup("https://example.com/s.json")[0] is MISSING


def test_a_relative_ref_resolves_against_the_enclosing_id() -> None:
    doc = {
        "$defs": {
            "x": {"type": "integer"},
            "inner": {"$id": "inner.json", "$defs": {"x": {"type": "string"}}, "$ref": "#/$defs/x"},
        },
        "$ref": "inner.json",
    }
    node, chain = Resolver(doc).resolve(doc["$defs"]["inner"])
    assert node["type"] == "string" and chain == ("#/$defs/x",)
    node, chain = Resolver(doc).resolve({"$ref": "inner.json"})
    assert node["type"] == "string" and chain == ("inner.json", "#/$defs/x")


@pytest.mark.parametrize(
    "doc",
    [
        {"$id": 7, "$defs": {"a": {"type": "string"}}},
        {"properties": [1, 2], "$defs": {"a": {"type": "string"}}},
        {"$defs": {"a": {"type": "string"}, "b": {"$id": ["x"]}}},
    ],
)
def test_a_malformed_schema_still_resolves_pointers(doc: Any) -> None:
    assert Resolver(doc).resolve({"$ref": "#/$defs/a"})[0] == {"type": "string"}


def test_resolver_follows_chains_merges_siblings_and_stops_on_cycles() -> None:
    doc = {
        "$defs": {
            "a": {"$ref": "#/$defs/b"},
            "b": {"type": "string"},
            "loop": {"$ref": "#/$defs/loop2"},
            "loop2": {"$ref": "#/$defs/loop"},
        }
    }
    resolver = Resolver(doc)
    assert resolver.resolve({"$ref": "#/$defs/a", "maxLength": 3}) == (
        {"type": "string", "maxLength": 3},
        ("#/$defs/a", "#/$defs/b"),
    )
    node, chain = resolver.resolve({"$ref": "#/$defs/loop"})
    assert chain == ("#/$defs/loop", "#/$defs/loop2")
    assert node == {"$ref": "#/$defs/loop"}


def test_expand_inlines_refs_strips_annotations_keeps_property_names() -> None:
    properties = {"description": {"type": "string"}, "next": {"$ref": "#/definitions/n"}}
    doc = {"definitions": {"n": {"type": "object", "description": "d", "properties": properties}}}
    expanded = Resolver(doc).expand({"$ref": "#/definitions/n", "title": "T"})
    assert expanded == {
        "type": "object",
        "properties": {"description": {"type": "string"}, "next": {"$ref": "#/definitions/n"}},
    }


def test_recursive_schema_terminates_and_finds_deep_change() -> None:
    def tree(kind: str) -> dict[str, Any]:
        kids = {"type": "array", "items": {"$ref": "#/definitions/node"}}
        node = {"type": "object", "properties": {"value": {"type": kind}, "kids": kids}}
        return {"$ref": "#/definitions/node", "definitions": {"node": node}}

    assert _sides(tree("string"), tree("number")) == [
        ("properties.value.type", Severity.BREAKING, BOTH)
    ]


def test_rename_prefers_the_most_similar_name() -> None:
    old = {"properties": {"summary": {"type": "string"}, "notes": {"type": "string"}}}
    new = {"properties": {"exec_summary": {"type": "string"}, "remarks": {"type": "string"}}}
    summaries = sorted(d.summary for d in compare_schema(old, new))
    assert summaries == [
        "property renamed: notes -> remarks",
        "property renamed: summary -> exec_summary",
    ]


def test_rename_needs_equal_schemas() -> None:
    old = {"properties": {"summary": {"type": "string"}}}
    new = {"properties": {"exec_summary": {"type": "array"}}}
    assert [(d.kind, d.summary) for d in compare_schema(old, new)] == [
        (Kind.ADDED, "optional property added: exec_summary"),
        (Kind.REMOVED, "property removed: summary"),
    ]


def test_not_flips_the_side() -> None:
    found = compare_schema({"not": {"type": "integer"}}, {"not": {"type": "number"}})
    assert [(d.path, d.breaks) for d in found] == [("not.type", NEW)]


def test_combinator_order_and_duplicates_do_not_count() -> None:
    old = {"anyOf": [{"type": "string"}, {"type": "number"}]}
    new = {"anyOf": [{"type": "number"}, {"type": "string"}, {"type": "string"}]}
    assert _sides(old, new) == [("", Severity.COSMETIC, None)]


@pytest.mark.parametrize(
    ("keyword", "added_breaks"), [("anyOf", OLD), ("oneOf", OLD), ("allOf", NEW)]
)
def test_combinator_branch_added(keyword: str, added_breaks: Breaks) -> None:
    old = {keyword: [{"type": "string"}]}
    new = {keyword: [{"type": "string"}, {"maxLength": 3}]}
    assert [d.breaks for d in compare_schema(old, new)] == [added_breaks]
    assert [d.breaks for d in compare_schema(new, old)] == [NEW if added_breaks is OLD else OLD]


def test_combinator_branches_compared_in_place() -> None:
    old = {"allOf": [{"type": "string"}, {"enum": ["red"]}]}
    new = {"allOf": [{"enum": ["red", "blue"]}, {"type": "string"}]}
    assert _sides(old, new) == [("allOf.0.enum", Severity.BREAKING, OLD)]


def test_tuple_items_against_additional_items() -> None:
    old = {"type": "array", "items": [{"type": "string"}, {"type": "number"}]}
    new = {"type": "array", "items": [{"type": "string"}], "additionalItems": {"type": "number"}}
    # Position 1 stays a number; from position 2 on, anything became numbers only.
    assert _sides(old, new) == [("additionalItems.type", Severity.BREAKING, NEW)]


def test_false_schema() -> None:
    assert _sides({"properties": {"a": {}}}, {"properties": {"a": False}}) == [
        ("properties.a", Severity.BREAKING, NEW)
    ]


def test_dependencies_arrays() -> None:
    old = {"dependencies": {"foo": ["bar"]}}
    new = {"dependencies": {"bar": ["foo"]}}
    assert _sides(old, new) == [
        ("dependencies.bar", Severity.BREAKING, NEW),
        ("dependencies.foo", Severity.BREAKING, OLD),
    ]


def test_unknown_keyword_is_behavioral() -> None:
    assert _sides({"x-strict": True}, {"x-strict": False}) == [
        ("x-strict", Severity.BEHAVIORAL, None)
    ]


def test_equivalent_forms_are_one_cosmetic_change() -> None:
    found = compare_schema({"type": ["string"], "additionalProperties": True}, {"type": "string"})
    assert [(d.path, d.severity) for d in found] == [("", Severity.COSMETIC)]


def test_path_prefix() -> None:
    old = {"properties": {"a": {"type": "string"}}}
    new = {"properties": {"a": {"type": "number"}}}
    assert [d.path for d in compare_schema(old, new, "parameters")] == [
        "parameters.properties.a.type"
    ]
