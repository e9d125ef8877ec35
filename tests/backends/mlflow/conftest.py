"""One real MLflow server per test session; each test works on bundles of its own names."""

from __future__ import annotations

import itertools

import pytest

_bundles = itertools.count()


@pytest.fixture
def bundle() -> str:
    """A bundle name no other test of the session uses (the server is shared)."""
    return f"agent-{next(_bundles)}"
