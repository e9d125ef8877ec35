"""The environment run (issue 20): while open, one inventory read, one event loop and one HTTP
pool for every call; opening nests; closed, each call is a loop of its own and the inventory is
read at every ask (the files may change between commands)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from reconciler.environment import EnvironmentRun
from tests.support.configrepo import ConfigRepo, inventory
from tests.support.counting import inventory_reads


@pytest.fixture
def run(tmp_path: Path) -> EnvironmentRun:
    repo = ConfigRepo(tmp_path / "config")
    repo.bundle()
    target = {"name": "eu", "kind": "region", "source": {"type": "file", "path": "fleet/eu.json"}}
    repo.write("targets/production.yaml", inventory([target]))
    repo.commit("v1")
    return EnvironmentRun(repo.root, "production", environ={})


async def _loop() -> asyncio.AbstractEventLoop:
    return asyncio.get_running_loop()


def test_an_open_run_reads_the_inventory_once(
    run: EnvironmentRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads = inventory_reads(monkeypatch)
    with run.open():
        first = run.inventory()
        assert run.inventory() is first
        with run.open():  # nested: the same run
            assert run.inventory() is first
    assert reads == ["production"]
    run.inventory()
    run.inventory()
    assert len(reads) == 3, "closed, the inventory is read at every ask"


def test_an_open_run_calls_every_coroutine_on_one_loop(run: EnvironmentRun) -> None:
    with run.open():
        one = run.call(_loop())
        with run.open():
            two = run.call(_loop())
        three = run.call(_loop())
    assert one is two is three
    assert one.is_closed(), "closing the run closes its loop"
    alone = run.call(_loop())
    assert alone is not one and alone.is_closed(), "a closed run's call has a loop of its own"


def test_the_http_pool_is_one_per_open_run_and_closed_with_it(run: EnvironmentRun) -> None:
    async def session_of() -> object:
        return run.sources.http.session

    with run.open():
        pool = run.sources
        session = run.call(session_of())
        assert run.call(session_of()) is session
    assert session.closed  # type: ignore[attr-defined]
    assert pool.http._session is None
    with run.open():
        assert run.sources is not pool, "a new open run has a new pool"


def test_the_repo_is_the_pooled_one(run: EnvironmentRun) -> None:
    from reconciler.bundle.gitrepo import repo_at

    assert run.repo is repo_at(run.repo_root)
    assert run.repo.commit("HEAD").summary == "v1"
