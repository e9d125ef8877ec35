"""``skew``: the on-call table is targets x bundles (design §8): a row per bundle a target runs."""

from __future__ import annotations

from pathlib import Path

from tests.support.cli import reconciler
from tests.support.configrepo import ConfigRepo, inventory


def test_skew_has_a_row_per_target_and_bundle(tmp_path: Path) -> None:
    repo = ConfigRepo(tmp_path / "config")
    repo.bundle("agent-a")
    repo.bundle("agent-b")
    targets = [{"name": "eu-west-1", "source": {"type": "file", "path": "fleet/{bundle}.json"}}]
    repo.write("targets/production.yaml", inventory(targets, bundles=["agent-a", "agent-b"]))
    repo.write(".gitignore", "fleet/\n")
    repo.commit("v1")
    rendered = reconciler("--repo", repo.root, "render", "agent-a").out
    repo.write("fleet/agent-a.json", rendered)  # agent-b was never delivered

    run = reconciler("--repo", repo.root, "skew", "--env", "production", env={"COLUMNS": "200"})
    assert run.code == 2, run.out + run.err  # missing fails the default policy
    rows = [line for line in run.out.splitlines() if "eu-west-1" in line]
    assert len(rows) == 2, run.out
    assert "agent-a" in rows[0] and "in_sync" in rows[0]
    assert "agent-b" in rows[1] and "missing" in rows[1]
