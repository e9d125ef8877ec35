"""A daemon step runs on one event loop with one HTTP pool and reads its inventory once (issue
20): its fetches, output samples, health checks, Prometheus queries and applies all share the
environment run's loop and session, however many of them the step makes.

The step is the daemon's own (``Daemon._tick``, in this process) against real servers: a health
endpoint, an outputs endpoint and the session's Prometheus. Loops are counted where every loop
is made (the event loop policy), sessions where every aiohttp session is made, inventory reads
where the run reads one.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from reconciler.daemon.loop import Daemon
from reconciler.gates import prometheus as gates_prometheus
from tests.servers.exporter import Exporter
from tests.servers.health import Health, running_health
from tests.servers.outputs import OutputsServer, reports, running_outputs
from tests.servers.prometheus import Prometheus
from tests.support.agentrepo import AgentRepo, file_target
from tests.support.counting import inventory_reads

METRIC = "agent_output_parse_errors_ratio"
NAMES = ("canary", "eu", "us")


class CountingPolicy(asyncio.DefaultEventLoopPolicy):
    """The default policy, counting the loops it makes (``asyncio.run`` and ``asyncio.Runner``
    make theirs here)."""

    def __init__(self) -> None:
        super().__init__()
        self.made = 0

    def new_event_loop(self) -> asyncio.AbstractEventLoop:
        self.made += 1
        return super().new_event_loop()


@pytest.fixture
def loops() -> Iterator[CountingPolicy]:
    before = asyncio.get_event_loop_policy()
    policy = CountingPolicy()
    asyncio.set_event_loop_policy(policy)
    try:
        yield policy
    finally:
        asyncio.set_event_loop_policy(before)


@pytest.fixture
def sessions(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """One entry per aiohttp session made."""
    made: list[int] = []
    original = aiohttp.ClientSession.__init__

    def counted(self: aiohttp.ClientSession, *args: Any, **kwargs: Any) -> None:
        made.append(1)
        original(self, *args, **kwargs)

    monkeypatch.setattr(aiohttp.ClientSession, "__init__", counted)
    return made


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every read of an inventory by an environment run (the environment's name)."""
    return inventory_reads(monkeypatch)


@pytest.fixture
def queries(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every Prometheus query the gates make (passed through to the real Prometheus)."""
    asked: list[str] = []
    original = gates_prometheus.query

    async def recorded(transport: Any, base_url: str, promql: str) -> list[float]:
        asked.append(promql)
        return await original(transport, base_url, promql)

    monkeypatch.setattr(gates_prometheus, "query", recorded)
    return asked


def gated_repo(root: Path, health: Health, outputs: OutputsServer, prometheus: str) -> AgentRepo:
    run_id = uuid.uuid4().hex[:12]
    repo = AgentRepo(root)
    repo.agent()
    targets = [
        file_target(name, health={"url": health.url}, outputs={"url": outputs.url(name)})
        for name in NAMES
    ]
    query = f'max({METRIC}{{run="{run_id}", target="{{target}}"}})'
    repo.targets(
        targets,
        analysis={"prometheus": {"url": prometheus}},
        rollout={
            "waves": [
                {"name": "canary", "targets": ["canary"]},
                {"name": "rest", "targets": ["*"]},
            ],
            "progress_deadline": "10m",
            "analysis": [{"name": "parse-errors", "query": query, "max": 0.02}],
        },
    )
    repo.commit("v1")
    for name in NAMES:
        repo.place(name)
    repo.agent(version="2025-08-07")
    repo.commit("v2: model version only")
    return repo


def test_a_daemon_step_makes_one_event_loop_and_one_http_session(
    tmp_path: Path,
    prometheus: Prometheus,
    exporter: Exporter,
    loops: CountingPolicy,
    sessions: list[int],
    queries: list[str],
    reads: list[str],
) -> None:
    with running_health() as health, running_outputs() as outputs:
        for name in NAMES:
            outputs.serve(name, reports(5))
        repo = gated_repo(tmp_path / "config", health, outputs, prometheus.url)
        now = [1_800_000_000.0]
        daemon = Daemon(repo.root, "production", interval=60, clock=lambda: now[0])
        made, opened, loaded = [], [], []
        try:
            for _ in range(2):
                before, sessions_before, reads_before = loops.made, len(sessions), len(reads)
                daemon._tick()
                made.append(loops.made - before)
                opened.append(len(sessions) - sessions_before)
                loaded.append(len(reads) - reads_before)
                now[0] += 5
        finally:
            for runner in daemon.runners.values():
                runner.stop()
            if daemon._store is not None:
                daemon._store.close()
    runner = daemon.runners["production"]
    assert runner.failures == 0
    # The steps did every kind of async work: fetch, outputs, health, Prometheus, apply.
    assert health.answered, "health was checked"
    assert all(outputs.requests.get(name) == 2 for name in NAMES), outputs.requests
    assert queries, "the canary's gate asked Prometheus"
    assert repo.runs_version("canary") == "2025-08-07", "the canary was applied"
    # ...each step on one event loop, through one HTTP session, with one read of the inventory.
    assert made == [1, 1]
    assert opened == [1, 1]
    assert loaded == [1, 1]
