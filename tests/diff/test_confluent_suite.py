"""Confluent Schema Registry's own verdicts on JSON Schema pairs (design §6): every pair it calls
incompatible must come out ``breaking`` for ``readers_of_new`` (or both). The suite is test data
beside the project (``../shared/peer-suites/``), read when present and never copied in."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.diff import Breaks, Severity, compare_schema

SUITE = Path(__file__).resolve().parents[3] / "shared" / "peer-suites" / "confluent-json-schema"
FILES = ("diff-schema-examples.json", "diff-combined-schema-examples.json")


def _cases() -> list[Any]:
    """The pairs whose applicable verdict (LENIENT where given) is incompatible."""
    if not SUITE.is_dir():
        return []
    cases = []
    for name in FILES:
        for index, case in enumerate(json.loads((SUITE / name).read_text(encoding="utf-8"))):
            if "original_metadata" in case or "update_metadata" in case:
                continue  # Confluent's reserved-field feature: not ours
            if not case.get("compatible_lenient", case["compatible"]):
                cases.append(pytest.param(case, id=f"{name.split('-')[1]}-{index}"))
    return cases


CASES = _cases()


@pytest.mark.skipif(not CASES, reason="Confluent peer suite not present beside the project")
@pytest.mark.parametrize("case", CASES)
def test_incompatible_pairs_are_breaking_for_readers_of_new(case: Any) -> None:
    changes = compare_schema(case["original_schema"], case["update_schema"])
    sides = {c.breaks for c in changes if c.severity is Severity.BREAKING}
    assert sides & {Breaks.READERS_OF_NEW, Breaks.BOTH}, case["description"]
