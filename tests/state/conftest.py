"""The state store contract runs against every backend: SQLite (a file) and PostgreSQL (the
session's real server, a fresh database per test)."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from reconciler.state import StateStore, open_store
from tests.servers.postgres import Postgres

_numbers = itertools.count()

Opener = Callable[[], StateStore]


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Opener]]:
    """``(kind, open)``: ``open()`` gives another connection to the same store."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'state.db'}"
    else:
        server: Postgres = request.getfixturevalue("postgres")
        name = re.sub(r"[^a-z0-9_]", "_", request.node.name[:24].lower())
        url = server.create_database(f"state_{next(_numbers)}_{name}")
    opened: list[StateStore] = []

    def connect() -> StateStore:
        store = open_store(tmp_path, url)
        opened.append(store)
        return store

    yield request.param, connect
    for store in opened:
        store.close()


@pytest.fixture
def store(backend: tuple[str, Opener]) -> StateStore:
    return backend[1]()
