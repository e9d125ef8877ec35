"""Golden fixture pairs for the diff engine: one folder per case under ``tests/fixtures/diff/``
holding ``old.json`` (what a target runs), ``new.json`` (desired) and ``expected.json``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.canonical import component_digests
from reconciler.diff import Change, diff_bundle

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "diff"
CASES = sorted(path.name for path in FIXTURES.iterdir() if path.is_dir())


def _load(case: str, name: str) -> Any:
    return json.loads((FIXTURES / case / name).read_text(encoding="utf-8"))


def _observed(change: Change, expected: dict[str, Any]) -> dict[str, Any]:
    """The change in the expectation's terms: its fields, and the summary if it contains the
    expected substring (else the whole summary, so a mismatch shows what came out)."""
    summary = change.summary
    wanted = expected.get("summary_contains", "")
    return {
        "component": change.component,
        "path": change.path,
        "kind": str(change.kind),
        "severity": str(change.severity),
        "summary_contains": wanted if wanted in summary else summary,
        **({"breaks": str(change.breaks)} if change.breaks or "breaks" in expected else {}),
    }


def test_there_are_cases() -> None:
    assert len(CASES) >= 30


@pytest.mark.parametrize("case", CASES)
def test_fixture_pair(case: str) -> None:
    old, new, expected = (
        _load(case, "old.json"),
        _load(case, "new.json"),
        _load(case, "expected.json"),
    )
    changes = diff_bundle(old, new)
    observed = [
        _observed(change, expected[i] if i < len(expected) else {})
        for i, change in enumerate(changes)
    ]
    assert observed == expected


@pytest.mark.parametrize("case", CASES)
def test_fixture_pair_with_given_digests_and_swapped_insertion_order(case: str) -> None:
    """The caller's digests give the same answer, and dict insertion order never counts."""
    old, new = _load(case, "old.json"), _load(case, "new.json")
    reordered_old = dict(reversed(list(old.items())))
    given = diff_bundle(reordered_old, new, component_digests(old), component_digests(new))
    assert given == diff_bundle(old, new)


@pytest.mark.parametrize("case", CASES)
def test_no_changes_against_itself(case: str) -> None:
    new = _load(case, "new.json")
    assert diff_bundle(new, new) == []
