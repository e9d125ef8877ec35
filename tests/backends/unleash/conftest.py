"""One real Unleash (on its own PostgreSQL) per test session; each test uses bundles of its own."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from .server import Unleash, UnleashUnavailable, running_unleash

_bundles = itertools.count()


@pytest.fixture(scope="session")
def unleash() -> Iterator[Unleash]:
    """The flag platform: Unleash at ``unleash.url``, seeded and inspected through ``unleash``."""
    problem = ""
    try:
        with running_unleash() as server:
            yield server
    except UnleashUnavailable as exc:  # fail, never skip: a missing server must not pass quietly
        problem = str(exc)
    if problem:
        pytest.fail(problem, pytrace=False)


@pytest.fixture
def bundle() -> str:
    """A bundle name no other test of the session uses (the server is shared)."""
    return f"agent-{next(_bundles)}"
