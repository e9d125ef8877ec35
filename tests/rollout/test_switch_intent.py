"""A writer killed between the switches of one group (SIGKILL: no chance to finish): the switch
intent it recorded before the first switch is re-issued by the next writer, which finishes the
group before anything else; no torn group survives that one step."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from reconciler.state import open_store
from tests.servers.postgres import Postgres
from tests.support.cli import reconciler
from tests.support.configrepo import ConfigRepo, inventory

PARTS = ("store", "prompts", "flags")


def _repo(tmp_path: Path) -> ConfigRepo:
    repo = ConfigRepo(tmp_path / "config")
    repo.bundle()
    repo.write(".gitignore", "fleet/\n")
    targets = [
        {"name": p, "group": "eu", "source": {"type": "file", "path": f"fleet/{p}/{{bundle}}.json"}}
        for p in PARTS
    ]
    for part in PARTS:
        (repo.root / "fleet" / part).mkdir(parents=True)
    repo.write("targets/production.yaml", inventory(targets))
    repo.commit("v1")
    return repo


def _audit(repo: ConfigRepo) -> dict[str, Any]:
    run = reconciler("--repo", repo.root, "audit", "--env", "production", "--format", "json")
    return run.json()  # type: ignore[no-any-return]


def _lease_expires(root: Path) -> None:
    store = open_store(root, None)
    try:
        deadline = time.monotonic() + 30
        while (lease := store.lease("production")) is not None and lease.live:
            assert time.monotonic() < deadline, lease
            time.sleep(min(lease.seconds_left, 0.5))
    finally:
        store.close()


def _served(repo: ConfigRepo, part: str) -> str:
    return str(json.loads((repo.root / f"fleet/{part}/support-agent.json").read_text())["revision"])


@pytest.fixture(params=["sqlite", "postgresql"])
def state(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The store every writer of the test shares: the embedded one, or a PostgreSQL database
    (where the next writer is whoever takes the lease over, as a follower daemon would)."""
    if request.param == "postgresql":
        postgres: Postgres = request.getfixturevalue("postgres")
        url = postgres.create_database(f"intent_{uuid.uuid4().hex[:12]}")
        monkeypatch.setenv("RECONCILER_STATE_URL", url)
    return str(request.param)


def test_a_writer_killed_between_switches_leaves_an_intent_the_next_writer_finishes(
    tmp_path: Path, state: str
) -> None:
    repo = _repo(tmp_path)
    v1 = repo.git("rev-parse", "HEAD").strip()
    assert reconciler("--repo", repo.root, "converge", "--env", "production").code == 0
    repo.bundle(prompt="Version two.\n")
    v2 = repo.commit("v2")

    killed = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.support.kill_between_switches",
            str(repo.root),
            "store",
            "flags",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert killed.returncode == -9, killed.stdout + killed.stderr  # SIGKILL, mid-group
    assert _served(repo, "store") == v2 and _served(repo, "flags") == v1  # torn on disk
    torn = [f for f in _audit(repo)["findings"] if f["code"] == "torn"]
    assert torn, "the kill did not land between two switches of the group"

    status = reconciler(
        "--repo", repo.root, "rollout", "status", "--env", "production", "--format", "json"
    )
    unfinished = status.json()["support-agent"]["switches"][0]
    assert unfinished["outcome"] is None and sorted(unfinished["parts"]) == sorted(PARTS)

    # The next writer, once the dead one's lease ran out (the store's clock decides): its first
    # step re-issues the intent, before it observes anything.
    _lease_expires(repo.root)
    step = reconciler("--repo", repo.root, "converge", "--env", "production", "--timeout", "30s")
    assert step.code == 0, step.out + step.err
    assert {_served(repo, p) for p in PARTS} == {v2}
    report = _audit(repo)
    assert [f for f in report["findings"] if f["code"] == "torn"] == []
    after = reconciler(
        "--repo", repo.root, "rollout", "status", "--env", "production", "--format", "json"
    )
    outcomes = [s["outcome"] for s in after.json()["support-agent"]["switches"]]
    assert "resumed: switched" in outcomes
