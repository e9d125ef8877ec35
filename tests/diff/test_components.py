"""Directions and normalisation in the model, guardrail and flag differs."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.diff.components import diff_flag, guardrail_direction, variant_shares


@pytest.mark.parametrize(
    ("path", "old", "new", "note"),
    [
        ("threshold", 0.8, 0.6, " (tightened)"),  # blocks at a lower score: blocks more
        ("threshold", 0.6, 0.8, " (loosened)"),
        ("toxicity.score_threshold", 0.5, 0.9, " (loosened)"),
        ("min_score", 0.5, 0.7, " (tightened)"),  # needs a higher score to pass
        ("min_score", 0.7, 0.5, " (loosened)"),
        ("max_tokens", 100, 200, " (loosened)"),
        ("max_tokens", 200, 100, " (tightened)"),
        ("retries", 1, 3, " (raised)"),  # no direction known: just which way
        ("threshold", 0.5, 0.5, ""),
        ("threshold", float("nan"), 0.5, ""),
        ("enabled", True, False, ": disabled (loosened)"),
        ("enabled", False, True, ": enabled (tightened)"),
        ("entities", ["phone"], [], " (loosened)"),  # removed members
        ("entities", [], ["phone"], " (tightened)"),  # added members
        ("entities", ["a"], ["b"], ""),  # both: no single direction
        ("allowlist", [], ["x.com"], " (loosened)"),
        ("action", "block", "warn", " (loosened)"),
        ("toxicity.action", "warn", "BLOCK", " (tightened)"),
        ("on_fail", "exception", "noop", " (loosened)"),  # Guardrails AI
        ("pii.entity_action", "ANONYMIZE", "BLOCK", " (tightened)"),  # Bedrock
        ("action", "redact", "mask", ""),  # equally strict
        ("action", "block", "escalate", ""),  # outside the order: no direction
        ("action", 1, "block", ""),
    ],
)
def test_guardrail_direction(path: str, old: Any, new: Any, note: str) -> None:
    assert guardrail_direction(path, old, new) == note


@pytest.mark.parametrize(
    ("variants", "shares"),
    [
        ({"a": 1, "b": 1}, {"a": 50, "b": 50}),
        ({"a": 50, "b": 50.0}, {"a": 50, "b": 50}),
        ({"a": {"weight": 300}, "b": {"weight": 700}}, {"a": 30, "b": 70}),
        ([{"name": "a", "weight": 1}, {"name": "b", "weight": 3}], {"a": 25, "b": 75}),
        ({"a": "50%", "b": "50%"}, {"a": 50, "b": 50}),
        ({"a": 0, "b": 0}, None),
        ({"a": "x"}, None),
        ("a", None),
        ([{"weight": 1}], None),
    ],
)
def test_variant_shares(variants: Any, shares: dict[str, float] | None) -> None:
    assert variant_shares(variants) == shares


def test_flag_normalised_forms_are_equal() -> None:
    old = {"enabled": True, "rollout": "25%", "variants": {"a": 1, "b": 1}}
    new = {"enabled": True, "rollout": 25.0, "variants": {"a": 500, "b": 500}}
    assert diff_flag(old, new) == []


def test_flag_summaries() -> None:
    old = {"enabled": True, "rollout": 25, "variants": {"control": 50, "treatment": 50}}
    new = {"enabled": False, "rollout": 50, "variants": {"control": 70, "treatment": 30}}
    assert sorted(d.summary for d in diff_flag(old, new)) == [
        "enabled -> disabled",
        "rollout 25% -> 50%",
        "variant control 50% -> 70%",
        "variant treatment 50% -> 30%",
    ]


def test_flag_variant_added_and_removed_and_odd_forms() -> None:
    old = {"variants": {"a": 50, "b": 50}, "enabled": "yes"}
    new = {"variants": {"a": 50, "c": 50}, "enabled": "no"}
    assert sorted(d.summary for d in diff_flag(old, new)) == [
        "enabled yes -> no",
        "variant b removed (was 50%)",
        "variant c added: 50%",
    ]
