"""Prompt helpers: template variables, whitespace normalisation, line statistics."""

from __future__ import annotations

import pytest

from reconciler.diff.change import Kind, Severity
from reconciler.diff.prompt import (
    diff_prompt,
    diff_text,
    line_endings,
    line_stats,
    normalized_lines,
    template_variables,
)


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("Hello {{name}}", {"{{name}}"}),
        ("Hello {{ name }} and {{user.email}}", {"{{name}}", "{{user}}"}),
        ("{% for t in tickets %}{{ t.id }}{% endfor %}", {"{{tickets}}"}),
        ("{% set x = 1 %}{{ x }} {{ y | upper }}", {"{{y}}"}),
        ("{{#items}}{{label}}{{/items}}", {"{{items}}", "{{label}}"}),  # Mustache: fallback
        (
            "Dear {customer}, ticket {ticket.id} at {when:%H:%M} {x!r}",
            {"{customer}", "{ticket}", "{when}", "{x}"},
        ),
        ('Reply as JSON: {"summary": "...", "n": 1}', set()),
        ("Reply as { summary: str } or {a: 1} or {0} or {}", set()),
        ("{{ name }} and {name}", {"{{name}}", "{name}"}),
        ("No variables at all.", set()),
    ],
)
def test_template_variables(text: str, names: set[str]) -> None:
    assert template_variables(text) == names


def test_normalized_lines_drop_endings_and_trailing_whitespace_only() -> None:
    assert normalized_lines("a  \r\nb\t\r\n\r\n\n") == ["a", "b"]
    assert normalized_lines("a\rb") == ["a", "b"]
    assert normalized_lines("  a") == ["  a"]  # indentation is content


@pytest.mark.parametrize(
    ("text", "style"),
    [
        ("a\nb\n", "LF"),
        ("a\r\nb\r\n", "CRLF"),
        ("a\rb", "CR"),
        ("a\r\nb\n", "mixed"),
        ("a", "none"),
    ],
)
def test_line_endings(text: str, style: str) -> None:
    assert line_endings(text) == style


def test_line_stats() -> None:
    assert line_stats(["a", "b", "c"], ["a", "B", "c", "d"]) == (1, 0, 1)
    assert line_stats(["a", "b", "c"], ["c"]) == (0, 2, 0)
    assert line_stats(["a", "b"], ["x"]) == (0, 1, 1)


def test_diff_text_equal_is_empty() -> None:
    assert diff_text("same", "same") == []


def test_diff_text_whitespace_only_is_cosmetic() -> None:
    (delta,) = diff_text("a\nb\n", "a  \nb\n\n")
    assert delta.severity is Severity.COSMETIC
    assert delta.summary == "prompt whitespace only: trailing whitespace (+3 bytes)"


def test_diff_text_variable_renamed_is_two_breaking_changes() -> None:
    deltas = diff_text("Hi {{ name }}", "Hi {{ full_name }}")
    assert [(d.kind, d.severity, d.summary) for d in deltas] == [
        (Kind.REMOVED, Severity.BREAKING, "template variable removed: {{name}}"),
        (Kind.ADDED, Severity.BREAKING, "template variable added: {{full_name}}"),
        (Kind.CHANGED, Severity.BEHAVIORAL, "prompt text changed: 1 line changed (+5 bytes)"),
    ]


def test_diff_prompt_other_keys_are_behavioral() -> None:
    deltas = diff_prompt({"text": "a", "lang": "en"}, {"text": "a", "lang": "de"})
    assert [(d.path, d.severity) for d in deltas] == [("lang", Severity.BEHAVIORAL)]


def test_line_stats_trims_common_head_and_tail() -> None:
    old = ["same"] * 1000 + ["a"] + ["same"] * 1000
    new = ["same"] * 1000 + ["b", "c"] + ["same"] * 1000
    assert line_stats(old, new) == (1, 0, 1)
    assert line_stats(["x", "x"], ["x", "x", "x"]) == (1, 0, 0)
