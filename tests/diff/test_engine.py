"""The engine as callers use it: the digest gate, ordering, tool shapes, and purity."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from reconciler.canonical import component_digests
from reconciler.diff import Breaks, Kind, Severity, diff_bundle, diff_component
from reconciler.diff.bundle import sort_key

REPO = Path(__file__).resolve().parents[2]


def test_equal_digests_are_not_looked_at() -> None:
    """The gate trusts the digests it is given: equal digests, no diff, whatever the values."""
    old = {"model": {"name": "a"}, "prompt/system": {"text": "x"}}
    new = {"model": {"name": "b"}, "prompt/system": {"text": "y"}}
    same_digests = {"model": "sha256:1", "prompt/system": "sha256:2"}
    assert diff_bundle(old, new, same_digests, same_digests) == []
    assert [c.component for c in diff_bundle(old, new)] == ["model", "prompt/system"]


def test_partial_digests_are_completed() -> None:
    old = {"model": {"name": "a"}, "flag/x": {"enabled": True}}
    new = {"model": {"name": "a"}, "flag/x": {"enabled": False}}
    changes = diff_bundle(old, new, {"model": component_digests(old)["model"]}, None)
    assert [(c.component, c.path) for c in changes] == [("flag/x", "enabled")]


def test_nan_is_compared_not_digested() -> None:
    old = {"guardrail/t": {"threshold": float("nan")}}
    new = {"guardrail/t": {"threshold": 0.5}}
    (change,) = diff_bundle(old, new)
    assert change.summary == "threshold NaN -> 0.5"


def test_changes_are_sorted() -> None:
    old = {"model": {"b": 1, "a": 1}, "flag/z": {"rollout": 1}, "tool/t": {"name": "t"}}
    new = {"model": {"b": 2, "a": 2}, "flag/z": {"rollout": 2}}
    changes = diff_bundle(old, new)
    assert changes == sorted(changes, key=sort_key)
    assert [(c.component, c.path) for c in changes] == [
        ("flag/z", "rollout"),
        ("model", "a"),
        ("model", "b"),
        ("tool/t", ""),
    ]


def test_to_json_carries_breaks_only_when_set() -> None:
    old = {"output_schema/r": {"properties": {"a": {"type": "string"}}}}
    new = {"output_schema/r": {"properties": {"a": {"type": "number"}}, "title": "R"}}
    assert [c.to_json() for c in diff_bundle(old, new)] == [
        {
            "component": "output_schema/r",
            "path": "properties.a.type",
            "kind": "changed",
            "severity": "breaking",
            "summary": "type changed: string -> number",
            "breaks": "both",
        },
        {
            "component": "output_schema/r",
            "path": "title",
            "kind": "added",
            "severity": "behavioral",
            "summary": "title added: R",
        },
    ]


def test_tool_name_change_breaks_both_and_other_keys_are_behavioral() -> None:
    old = {"name": "book", "description": "d", "parameters": {}, "strict": True}
    new = {"name": "book_meeting", "description": "d", "parameters": {}, "strict": False}
    found = diff_component("tool/book", old, new)
    assert sorted((d.path, d.severity, d.breaks) for d in found) == [
        ("name", Severity.BREAKING, Breaks.BOTH),
        ("strict", Severity.BEHAVIORAL, None),
    ]


def test_tool_schema_moved_between_styles() -> None:
    schema = {"type": "object", "properties": {"q": {"type": "string"}}}
    old = {"name": "t", "description": "d", "parameters": schema}
    new = {"name": "t", "description": "d", "input_schema": schema}
    found = diff_component("tool/t", old, new)
    assert [(d.path, d.kind, d.severity) for d in found] == [
        ("input_schema", Kind.CHANGED, Severity.BEHAVIORAL)
    ]


def test_unknown_component_kind_is_behavioral() -> None:
    (delta,) = diff_component("retriever/docs", {"k": 4}, {"k": 8})
    assert (delta.path, delta.severity, delta.summary) == ("k", Severity.BEHAVIORAL, "k 4 -> 8")


def test_model_change_of_a_whole_params_block() -> None:
    found = diff_component("model", {"params": {"temperature": 0.2}}, {"params": {}})
    assert [(d.path, d.kind, d.summary) for d in found] == [
        ("params.temperature", Kind.REMOVED, "temperature removed (was 0.2)")
    ]


def test_import_is_pure_and_light() -> None:
    """No I/O libraries, and no heavy import until a component needs it (design §9, §11)."""
    code = (
        "import sys, reconciler.diff as d\n"
        "d.diff_bundle({'model': {'a': 1}}, {'model': {'a': 2}})\n"
        "bad = {'requests', 'boto3', 'git', 'aiohttp', 'deepdiff', 'jinja2', 'pydantic'}\n"
        "print(sorted(bad & set(sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def test_no_io_in_the_package_source() -> None:
    # no files, no network, no clock: a date is passed in (ignore rules' expiry), never read
    forbidden = ("open(", "requests", "boto3", "aiohttp", "import git", "time.", ".now(", "today(")
    for path in (REPO / "reconciler" / "diff").glob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert not [word for word in forbidden if word in text], path.name
