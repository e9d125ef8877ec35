"""One real Unleash (on its own PostgreSQL) per test session; each test uses bundles of its own."""

from __future__ import annotations

import itertools

import pytest

from tests.backends.unleash.server import Unleash
from tests.support import release

_bundles = itertools.count()


@pytest.fixture
def bundle() -> str:
    """A bundle name no other test of the session uses (the server is shared)."""
    return f"agent-{next(_bundles)}"


@pytest.fixture
def client_token(unleash: Unleash) -> str:
    """A client API token (what a serving process holds), made through the admin API."""
    return release.client_token(unleash)
