"""Value helpers: JSON equality with numbers as numbers, set-like keys, summaries, the walk."""

from __future__ import annotations

import pytest

from reconciler.diff.change import Kind, Severity
from reconciler.diff.values import MISSING, fmt, join, key_of, same, walk


@pytest.mark.parametrize(
    ("a", "b", "equal"),
    [
        (0.2, 0.20, True),
        (1, 1.0, True),
        ({"a": 1, "b": [1, 2.0]}, {"b": [1.0, 2], "a": 1.0}, True),
        (True, 1, False),
        (False, 0, False),
        (None, 0, False),
        ("1", 1, False),
        ([1, 2], [2, 1], False),
        ({"a": 1}, {"a": 1, "b": None}, False),
    ],
)
def test_same(a: object, b: object, equal: bool) -> None:
    assert same(a, b) is equal
    assert (key_of(a) == key_of(b)) is equal


def test_key_of_is_hashable_for_nested_values() -> None:
    assert len({key_of({"x": [1, {"y": 2}]}), key_of({"x": [1.0, {"y": 2.0}]})}) == 1


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("2025-04-14", "2025-04-14"),
        (True, "true"),
        (None, "null"),
        (0.2, "0.2"),
        ({"b": 1, "a": [1]}, '{"a":[1],"b":1}'),
        ("line\nnext", "line\\nnext"),
        (MISSING, "(unset)"),
    ],
)
def test_fmt(value: object, text: str) -> None:
    assert fmt(value) == text


def test_fmt_truncates() -> None:
    assert fmt("x" * 100, limit=10) == "x" * 9 + "…"


def test_join() -> None:
    assert join("", "text") == "text"
    assert join("params", "temperature") == "params.temperature"
    assert join("items", 0) == "items.0"


def test_walk_paths_kinds_and_summaries() -> None:
    old = {"a": 1, "b": {"c": 0.2}, "gone": "x", "list": [1, 2]}
    new = {"a": 1.0, "b": {"c": 0.9}, "new": True, "list": [1, 3, 4]}
    deltas = walk(old, new, "", Severity.BEHAVIORAL)
    assert [(d.path, d.kind, d.summary) for d in deltas] == [
        ("b.c", Kind.CHANGED, "b.c 0.2 -> 0.9"),
        ("gone", Kind.REMOVED, "gone removed (was x)"),
        ("list.1", Kind.CHANGED, "list.1 2 -> 3"),
        ("list.2", Kind.ADDED, "list.2 added: 4"),
        ("new", Kind.ADDED, "new added: true"),
    ]
    assert {d.severity for d in deltas} == {Severity.BEHAVIORAL}


def test_walk_lists_as_sets() -> None:
    deltas = walk(
        {"e": ["a", "b"]}, {"e": ["c", "b", "b"]}, "", Severity.BEHAVIORAL, lists_as_sets=True
    )
    assert [(d.path, d.kind, d.summary) for d in deltas] == [
        ("e", Kind.CHANGED, "e: added c; removed a"),
    ]
    assert walk(["a", "b"], ["b", "a"], "", Severity.BEHAVIORAL, lists_as_sets=True) == []


def test_walk_whole_value_of_another_type() -> None:
    (delta,) = walk({"a": 1}, "text", "", Severity.BEHAVIORAL)
    assert (delta.path, delta.kind, delta.summary) == ("", Kind.CHANGED, 'value {"a":1} -> text')
