"""A model pinned to an alias (no dated version) is a finding: it can change under you."""

from __future__ import annotations

from pathlib import Path

from tests.support.cli import reconciler
from tests.support.configrepo import ConfigRepo, inventory


def _audit(repo: ConfigRepo) -> list[dict]:
    run = reconciler("--repo", repo.root, "audit", "--env", "production", "--format", "json")
    return [f for f in run.json()["findings"] if f["code"] == "model_alias"]


def test_alias_pin_is_a_warning_and_a_dated_pin_is_not(tmp_path: Path) -> None:
    repo = ConfigRepo(tmp_path / "config")
    repo.bundle()
    repo.write(
        "targets/production.yaml",
        inventory([{"name": "a", "source": {"type": "file", "path": "fleet/a/{bundle}.json"}}]),
    )
    repo.commit("dated")
    assert _audit(repo) == []
    spec = repo.root / "bundles/support-agent/bundle.yaml"
    spec.write_text(spec.read_text().replace('  version: "2025-04-14"\n', ""))
    repo.commit("alias")
    found = _audit(repo)
    assert len(found) == 1 and found[0]["level"] == "warning"
    assert "openai/gpt-4.1" in found[0]["message"] and "alias" in found[0]["message"]
