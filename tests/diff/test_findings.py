"""Model pin findings: an alias instead of a dated version can change under you."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.diff.findings import model_pin_findings


@pytest.mark.parametrize(
    "model",
    [
        {"provider": "openai", "name": "gpt-4.1", "version": "2025-04-14"},
        {"provider": "openai", "name": "gpt-4o-2024-08-06"},
        {"provider": "anthropic", "name": "claude-3-5-sonnet-20241022"},
        {"provider": "vertex", "name": "claude-3-5-sonnet-v2@20241022"},
        {"provider": "anthropic", "name": "claude-x", "version": "20241022"},
    ],
)
def test_dated_models_are_pinned(model: dict[str, Any]) -> None:
    assert model_pin_findings({"model": model}) == []


def test_an_alias_is_a_finding() -> None:
    components = {"model": {"provider": "openai", "name": "gpt-4.1"}, "prompt/x": "hi"}
    assert model_pin_findings(components) == [
        (
            "model_alias",
            "model openai/gpt-4.1 is pinned to an alias, not a dated version: "
            "it can change under you",
        )
    ]


@pytest.mark.parametrize("version", ["latest", "1", "2024-13-01", "v2025-04-14"])
def test_a_version_that_is_not_a_date_is_named(version: str) -> None:
    model = {"provider": "openai", "name": "gpt-4.1", "version": version}
    ((code, message),) = model_pin_findings({"model/main": model})
    assert code == "model_alias"
    assert repr(version) in message


def test_non_model_components_and_odd_values_are_ignored() -> None:
    assert model_pin_findings({"prompt/model": "x", "model": "gpt-4.1"}) == []
