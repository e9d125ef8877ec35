"""One writer per environment (design §10, issue "Hardening" item 1): converge and rollback no
longer race. Targets are a slow HTTP store (each write takes a while), so the race is real."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers.docstore import DocStore, running_docstore
from tests.support.cli import EXE, reconciler
from tests.support.configrepo import T0, ConfigRepo, inventory

TARGETS = [f"t{i}" for i in range(9)]


@pytest.fixture
def store() -> Iterator[DocStore]:
    with running_docstore(delay=0.6) as server:
        yield server


def _at(store: DocStore, target: str) -> str | None:
    return store.revision(f"/{target}/support-agent.json")


def _repo(tmp_path: Path, store: DocStore) -> tuple[ConfigRepo, str, str]:
    repo = ConfigRepo(tmp_path / "config")
    repo.bundle()
    targets = [
        {"name": n, "source": {"type": "http", "url": f"{store.url}/{n}/{{bundle}}.json"}}
        for n in TARGETS
    ]
    waves = [{"name": "one", "targets": ["t0"]}, {"name": "rest", "targets": ["*"]}]
    repo.write("targets/production.yaml", inventory(targets, rollout={"waves": waves}))
    v1 = repo.commit("v1", T0)
    repo.git("tag", "v1")
    render = reconciler("--repo", repo.root, "render", "support-agent").out.encode()
    for name in TARGETS:  # the fleet runs v1
        store.docs[f"/{name}/support-agent.json"] = render
    repo.bundle(prompt="v2: a change being rolled out\n")
    v2 = repo.commit("v2", T0)
    return repo, v1, v2


def _start_converge(repo: ConfigRepo) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(EXE), "--repo", str(repo.root), "converge", "--env", "production", "--timeout", "60s"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_writes(store: DocStore, count: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while len(store.writes) < count:
        assert time.monotonic() < deadline, f"only {len(store.writes)} writes"
        time.sleep(0.05)


def test_a_rollback_pre_empts_a_running_converge_and_nothing_lands_after_it(
    tmp_path: Path, store: DocStore
) -> None:
    repo, v1, v2 = _repo(tmp_path, store)
    # The converge's v2 writes stay in flight 4 s; the rollback's take 0.6 s.
    store.slow = lambda body: 4.0 if b"v2: a change" in body else None
    converge = _start_converge(repo)
    deadline = time.monotonic() + 60
    while len(store.started) < 3:  # the canary converged; the rest wave is being written
        assert time.monotonic() < deadline, store.started
        time.sleep(0.02)
    back = reconciler("--repo", repo.root, "rollback", "--env", "production", "--to", "v1")
    out, err = converge.communicate(timeout=60)
    assert back.code == 0, back.out + back.err
    assert "9 targets to v1" in back.out and "9 verified" in back.out
    assert converge.returncode == 2, out + err
    assert "pre-empted by rollback" in err and "nothing more was written" in err
    assert [_at(store, t) for t in TARGETS] == [v1] * 9, "every target holds v1"
    final = reconciler("--repo", repo.root, "audit", "--env", "production", "--format", "json")
    summary = final.json()["summary"]
    assert summary["lagging"] == 9 and summary.get("quarantined") is True
    assert v2 not in {_at(store, t) for t in TARGETS}


def test_a_converge_started_during_a_rollback_writes_nothing_and_names_it(
    tmp_path: Path, store: DocStore
) -> None:
    repo, v1, _ = _repo(tmp_path, store)
    converge_first = reconciler(
        "--repo", repo.root, "converge", "--env", "production", "--timeout", "60s"
    )
    assert converge_first.code == 0, converge_first.err  # the fleet is on v2 now
    store.started.clear()
    store.delay = 3.0  # the rollback's writes are in flight while the converge starts
    rollback = subprocess.Popen(
        [str(EXE), "--repo", str(repo.root), "rollback", "--env", "production", "--to", "v1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while not store.started:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    during = reconciler("--repo", repo.root, "converge", "--env", "production")
    rollback.communicate(timeout=60)
    assert during.code == 2
    assert "another writer holds the lease: rollback by" in during.err
    assert [_at(store, t) for t in TARGETS] == [v1] * 9


def test_two_converges_at_once_the_second_names_the_first(tmp_path: Path, store: DocStore) -> None:
    repo, _, v2 = _repo(tmp_path, store)
    first = _start_converge(repo)
    _wait_for_writes(store, 1)
    second = reconciler("--repo", repo.root, "converge", "--env", "production")
    out, err = first.communicate(timeout=60)
    assert first.returncode == 0, out + err
    assert second.code == 2 and "another writer holds the lease: converge by" in second.err
    assert [_at(store, t) for t in TARGETS] == [v2] * 9
