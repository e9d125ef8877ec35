"""``reconciler plan``: the PR preview — offline with ``--base``, or against what targets run."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cli import reconciler
from tests.support.configrepo import ConfigRepo, inventory


@pytest.fixture
def repo(tmp_path: Path) -> ConfigRepo:
    repo = ConfigRepo(tmp_path / "config")
    repo.bundle()
    repo.write(
        "targets/production.yaml",
        inventory(
            [
                {
                    "name": "region",
                    "source": {"type": "http", "url": "https://unreachable.invalid/{bundle}"},
                },
                {
                    "name": "pop",
                    "carries": ["prompt/*"],
                    "source": {"type": "file", "path": "fleet/pop/{bundle}.json"},
                },
            ]
        ),
    )
    repo.commit("base")
    repo.git("checkout", "-q", "-b", "rename")
    repo.bundle(field="exec_summary")
    repo.commit("rename summary")
    return repo


def test_offline_plan_names_the_breaking_rename_and_fails(repo: ConfigRepo, tmp_path: Path) -> None:
    run = reconciler(
        "--repo", repo.root, "plan", "--env", "production", "--base", "main", "--format", "json"
    )
    assert run.code == 2, run.err
    report = run.json()
    assert report["schema"] == "agent-reconciler.plan/v1"
    targets = {t["name"]: t for t in report["targets"]}
    changes = targets["region"]["bundles"][0]["changes"]
    assert [c["severity"] for c in changes] == ["breaking"]
    assert "summary -> exec_summary" in changes[0]["summary"]
    assert targets["pop"]["status"] == "in_sync"  # a prompt-only POP is not touched
    summary = tmp_path / "summary.md"
    gh = reconciler(
        "--repo",
        repo.root,
        "plan",
        "--env",
        "production",
        "--base",
        "main",
        "--format",
        "github",
        env={"GITHUB_STEP_SUMMARY": str(summary)},
    )
    assert gh.code == 2
    assert "::error file=bundles/support-agent/tools/write_report.json,line=" in gh.out
    assert "| region |" in summary.read_text()


def test_a_compatible_change_passes_the_default_policy(repo: ConfigRepo) -> None:
    repo.bundle(field="exec_summary", prompt="A friendlier prompt.\n")
    repo.commit("prompt only")
    run = reconciler("--repo", repo.root, "plan", "--env", "production", "--base", "HEAD~1")
    assert run.code == 0, run.out
    markdown = reconciler(
        "--repo",
        repo.root,
        "plan",
        "--env",
        "production",
        "--base",
        "HEAD~1",
        "--format",
        "markdown",
    )
    assert "prompt/system" in markdown.out


def test_plan_without_base_is_the_audit_under_the_plan_schema(repo: ConfigRepo) -> None:
    run = reconciler("--repo", repo.root, "plan", "--env", "production", "--format", "json")
    assert run.json()["schema"] == "agent-reconciler.plan/v1"
    assert {t["status"] for t in run.json()["targets"]} == {"unreachable"}
