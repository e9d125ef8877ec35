"""Every workflow and the composite action are valid, checked offline with check-jsonschema.

check-jsonschema (pinned in the ``test`` extra) ships the SchemaStore schemas for GitHub
workflows and actions, so nothing is downloaded. A missing validator fails, never skips.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[2]
VALIDATOR = Path(sys.executable).parent / "check-jsonschema"
WORKFLOWS = sorted(
    [
        *(ROOT / ".github" / "workflows").glob("*.y*ml"),
        *(ROOT / "examples" / "workflows").glob("*.y*ml"),
    ]
)
EXAMPLES = {p.name: p for p in (ROOT / "examples" / "workflows").glob("*.yml")}


def _validate(schema: str, *files: Path) -> subprocess.CompletedProcess:
    if not VALIDATOR.exists():
        pytest.fail(f"{VALIDATOR} is missing: pip install -e '.[test]' (make test does)")
    return subprocess.run(
        [str(VALIDATOR), "--builtin-schema", schema, *map(str, files)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def _load(path: Path) -> Any:
    return YAML(typ="safe").load(path.read_text())


def test_the_expected_files_exist() -> None:
    assert (ROOT / ".github" / "workflows" / "ci.yml") in WORKFLOWS
    assert set(EXAMPLES) == {
        "audit-on-push.yml",
        "plan-on-pull-request.yml",
        "stall-check-hourly.yml",
    }
    assert (ROOT / "action.yml").exists()


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: str(p.relative_to(ROOT)))
def test_workflow_is_valid(workflow: Path) -> None:
    done = _validate("vendor.github-workflows", workflow)
    assert done.returncode == 0, done.stdout + done.stderr


def test_action_is_valid() -> None:
    done = _validate("vendor.github-actions", ROOT / "action.yml")
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_validator_rejects_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    stepz: []\n")
    done = _validate("vendor.github-workflows", broken)
    assert done.returncode == 1, done.stdout


def test_ci_runs_make_test() -> None:
    ci = _load(ROOT / ".github" / "workflows" / "ci.yml")
    runs = [step.get("run", "") for step in ci["jobs"]["test"]["steps"]]
    assert "make test" in runs


def test_ci_tests_on_the_debian_the_installer_names() -> None:
    """tests/servers/install.sh installs Debian 12's packages (postgresql-15, nginx-light,
    chromium): the test job runs in a Debian 12 container, as root, with its Python 3.11."""
    ci = _load(ROOT / ".github" / "workflows" / "ci.yml")
    job = ci["jobs"]["test"]
    assert job["container"] == "python:3.11-bookworm"
    installer = (ROOT / "tests" / "servers" / "install.sh").read_text()
    assert "postgresql-15" in installer and "Debian 12" in installer
    uses = [step.get("uses", "") for step in job["steps"]]
    assert not any(u.startswith("actions/setup-python") for u in uses)  # the image's Python


def test_the_action_caches_the_history_index() -> None:
    """The composite action restores and saves .reconciler/cache (content-addressed, never
    stale) with actions/cache, keyed by the repository and the bundles' files."""
    action = _load(ROOT / "action.yml")
    step = next(
        s for s in action["runs"]["steps"] if s.get("uses", "").startswith("actions/cache@")
    )
    assert step["with"]["path"].endswith(".reconciler/cache")
    assert "github.repository" in step["with"]["key"] and "bundles/" in step["with"]["key"]
    assert "github.repository" in step["with"]["restore-keys"]
    assert "cache" in action["inputs"]


def test_action_contract() -> None:
    action = _load(ROOT / "action.yml")
    assert {"command", "env", "fail-on", "python-version"} <= set(action["inputs"])
    assert {"status", "drifted", "stalled", "report-path"} <= set(action["outputs"])
    assert action["runs"]["using"] == "composite"
    runs = [step.get("run", "") for step in action["runs"]["steps"]]
    assert any("pip install" in r and '"${{ github.action_path }}"' in r for r in runs)
    assert "python -m reconciler.ci.action" in runs
    for step in action["runs"]["steps"]:
        # Inputs reach the shell through env:, never spliced into the script.
        assert "inputs." not in step.get("run", ""), step


def _steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_examples_are_realistic(name: str) -> None:
    workflow = _load(EXAMPLES[name])
    assert workflow["permissions"] == {"contents": "read"}
    steps = _steps(workflow)
    uses = [s["uses"] for s in steps if "agent-reconciler" in s.get("uses", "")]
    assert uses and all(u.endswith("/agent-reconciler@v1") for u in uses)
    for job_name, job in workflow["jobs"].items():
        for step in job["steps"]:
            if step.get("uses", "").startswith("actions/checkout@") and job_name != "validate":
                assert step["with"]["fetch-depth"] == 0, (name, job_name)
    for step in steps:
        assert "secrets." not in step.get("run", ""), step  # secrets via env: only
        assert "${{" not in step.get("run", ""), step  # no expression injection into scripts


def test_pull_request_example_plans_against_the_base_and_comments() -> None:
    workflow = _load(EXAMPLES["plan-on-pull-request.yml"])
    assert "pull_request" in workflow["on"]
    plan = workflow["jobs"]["plan"]
    assert plan["permissions"]["pull-requests"] == "write"
    checkout = next(s for s in plan["steps"] if s.get("uses", "").startswith("actions/checkout"))
    assert checkout["with"]["fetch-depth"] == 0
    step = next(s for s in plan["steps"] if s.get("id") == "plan")
    assert step["with"]["command"] == "plan" and step["with"]["base"].startswith("origin/")
    comment = next(s for s in plan["steps"] if "gh api" in s.get("run", ""))
    assert "PATCH" in comment["run"] and "POST" in comment["run"]  # update, or create
    commands = {
        s["with"]["command"] for s in _steps(workflow) if "agent-reconciler" in s.get("uses", "")
    }
    assert commands == {"plan", "validate"}


def test_hourly_example_fails_on_a_stall() -> None:
    workflow = _load(EXAMPLES["stall-check-hourly.yml"])
    assert workflow["on"]["schedule"][0]["cron"].split()[1:] == ["*", "*", "*", "*"]
    step = next(s for s in _steps(workflow) if s.get("id") == "audit")
    assert step["with"]["fail-on"] == "stalled"
    assert step["env"]["AGENT_CONFIG_TOKEN"] == "${{ secrets.AGENT_CONFIG_TOKEN }}"
