"""The composite action's step, run exactly as ``action.yml`` runs it, on real config repos.

The command line and the environment come from ``action.yml`` itself (its ``run:`` and ``env:``
with ``${{ inputs.* }}`` filled in from the inputs' defaults and the case's ``with:``), with
``GITHUB_STEP_SUMMARY``, ``GITHUB_OUTPUT``, ``GITHUB_WORKSPACE`` and ``RUNNER_TEMP`` in a temp dir.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from tests.support.configrepo import T0, ConfigRepo, inventory

ROOT = Path(__file__).resolve().parents[2]
V2_AT = T0 + dt.timedelta(hours=1)
TOOL_FILE = "bundles/support-agent/tools/write_report.json"
_INPUT = re.compile(r"^\$\{\{\s*inputs\.([\w-]+)\s*\}\}$")


@dataclass
class Step:
    code: int
    out: str
    err: str
    summary: str
    outputs: dict[str, str]

    @property
    def annotations(self) -> list[str]:
        return [line for line in self.out.splitlines() if line.startswith("::")]


def _action_step() -> tuple[list[str], dict[str, str], dict[str, str]]:
    """The run step's argv, its env: mapping, and the inputs' defaults."""
    action = YAML(typ="safe").load((ROOT / "action.yml").read_text())
    step = next(s for s in action["runs"]["steps"] if s.get("id") == "run")
    argv = shlex.split(step["run"])
    assert argv[0] == "python"  # the Python actions/setup-python put on PATH
    defaults = {name: str(spec.get("default", "")) for name, spec in action["inputs"].items()}
    return [sys.executable, *argv[1:]], step["env"], defaults


def run_action(workspace: Path, now: dt.datetime, **inputs: str) -> Step:
    argv, step_env, defaults = _action_step()
    given = defaults | {k.replace("_", "-"): v for k, v in inputs.items()}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "INPUT_"))}
    for key, value in step_env.items():
        match = _INPUT.match(str(value))
        env[key] = given[match[1]] if match else str(value)
    runner = workspace.parent / "runner"
    runner.mkdir(exist_ok=True)
    summary, output = runner / "summary.md", runner / "output.txt"
    summary.write_text("")
    output.write_text("")
    env.update(
        GITHUB_ACTIONS="true",
        GITHUB_WORKSPACE=str(workspace),
        GITHUB_STEP_SUMMARY=str(summary),
        GITHUB_OUTPUT=str(output),
        RUNNER_TEMP=str(runner),
        RECONCILER_NOW=now.isoformat(),
    )
    proc = subprocess.run(
        argv,
        cwd=workspace,  # a run step starts in the workspace
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    outputs = dict(line.split("=", 1) for line in output.read_text().splitlines() if line)
    return Step(proc.returncode, proc.stdout, proc.stderr, summary.read_text(), outputs)


def _doc(repo: ConfigRepo, rev: str) -> dict[str, Any]:
    return repo.render(rev).to_json()


def _place(repo: ConfigRepo, target: str, doc: dict[str, Any]) -> None:
    repo.write(f"fleet/{target}/support-agent.json", json.dumps(doc))


@pytest.fixture
def repo(tmp_path: Path) -> ConfigRepo:
    """Two file targets; v1 at T0. Fleet files are not committed (they are the targets)."""
    repo = ConfigRepo(tmp_path / "workspace")
    repo.bundle()
    repo.write(
        "targets/production.yaml",
        inventory(
            [
                {
                    "name": name,
                    "kind": "region",
                    "source": {"type": "file", "path": f"fleet/{name}/{{bundle}}.json"},
                }
                for name in ("eu-west-1", "us-east-1")
            ]
        ),
    )
    repo.write(".gitignore", "fleet/\n")
    repo.commit("v1", T0)
    return repo


def _roll_out_v2(repo: ConfigRepo, **change: Any) -> None:
    """Commit v2 at V2_AT; eu-west-1 runs it, us-east-1 still runs v1."""
    v1 = _doc(repo, "HEAD")
    repo.bundle(**change)
    repo.commit("v2", V2_AT)
    _place(repo, "eu-west-1", _doc(repo, "HEAD"))
    _place(repo, "us-east-1", v1)


def _row(summary: str, target: str) -> str:
    rows = [line for line in summary.splitlines() if line.startswith(f"| {target} |")]
    assert rows, summary
    return rows[0]


def test_in_sync(repo: ConfigRepo) -> None:
    for target in ("eu-west-1", "us-east-1"):
        _place(repo, target, _doc(repo, "HEAD"))
    step = run_action(repo.root, T0 + dt.timedelta(days=1), command="audit", env="production")
    assert step.code == 0, step.err
    assert step.outputs["status"] == "ok"
    assert step.outputs["drifted"] == "0"
    assert step.outputs["stalled"] == "false"
    assert step.outputs["exit-code"] == "0"
    assert "in_sync" in _row(step.summary, "eu-west-1")
    assert "in_sync" in _row(step.summary, "us-east-1")
    assert step.annotations == []
    report = json.loads(Path(step.outputs["report-path"]).read_text())
    assert report["schema"] == "agent-reconciler.audit/v1"
    assert report["summary"]["in_sync"] == 2
    assert Path(step.outputs["markdown-path"]).read_text().strip() == step.summary.strip()


def test_lagging_only_passes(repo: ConfigRepo) -> None:
    _roll_out_v2(repo, prompt="You help customers, kindly.\n")
    step = run_action(repo.root, V2_AT + dt.timedelta(minutes=5), command="audit", env="production")
    assert step.code == 0, step.out + step.err
    assert step.outputs["status"] == "lagging"
    assert step.outputs["stalled"] == "false"
    assert "lagging" in _row(step.summary, "us-east-1")
    assert "in_sync" in _row(step.summary, "eu-west-1")
    warnings = [a for a in step.annotations if a.startswith("::warning ")]
    assert any("file=bundles/support-agent/prompts/system.md,line=" in a for a in warnings)
    assert not [a for a in step.annotations if a.startswith("::error")]


def test_stalled_fails(repo: ConfigRepo) -> None:
    _roll_out_v2(repo, prompt="You help customers, kindly.\n")
    step = run_action(repo.root, V2_AT + dt.timedelta(hours=6), command="audit", env="production")
    assert step.code == 2, step.out + step.err
    assert step.outputs["status"] == "stalled"
    assert step.outputs["stalled"] == "true"
    assert step.outputs["exit-code"] == "2"
    assert any(a.startswith("::error::stalled: us-east-1") for a in step.annotations)
    # fail-on narrows the policy: the same fleet passes when only drift fails.
    lenient = run_action(
        repo.root,
        V2_AT + dt.timedelta(hours=6),
        command="audit",
        env="production",
        fail_on="drifted",
    )
    assert lenient.code == 0 and lenient.outputs["stalled"] == "true"


def test_drifted_fails(repo: ConfigRepo) -> None:
    doc = _doc(repo, "HEAD")
    _place(repo, "eu-west-1", doc)
    doc = json.loads(json.dumps(doc))
    doc["components"]["guardrail/toxicity"]["threshold"] = 0.5  # changed out of band
    _place(repo, "us-east-1", doc)
    step = run_action(repo.root, T0 + dt.timedelta(days=1), command="audit", env="production")
    assert step.code == 2, step.out + step.err
    assert step.outputs["status"] == "drifted"
    assert step.outputs["drifted"] == "1"
    assert step.outputs["stalled"] == "false"
    assert "drifted" in _row(step.summary, "us-east-1")


def _line_of(repo: ConfigRepo, rel: str, text: str) -> int:
    lines = (repo.root / rel).read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if text in line)


def test_breaking_change_fails_with_an_error_on_the_tool_file(repo: ConfigRepo) -> None:
    _roll_out_v2(repo, field="exec_summary")
    step = run_action(repo.root, V2_AT + dt.timedelta(minutes=5), command="audit", env="production")
    assert step.code == 2, step.out + step.err
    assert step.outputs["status"] == "breaking"
    errors = [a for a in step.annotations if a.startswith(f"::error file={TOOL_FILE},line=")]
    assert errors, step.out
    line = int(re.match(rf"::error file={re.escape(TOOL_FILE)},line=(\d+)", errors[0])[1])
    assert 1 <= line <= len((repo.root / TOOL_FILE).read_text().splitlines())
    assert line == _line_of(repo, TOOL_FILE, '"exec_summary": {')  # the renamed property
    assert "summary -> exec_summary" in errors[0]
    assert "tool/write_report" in step.summary


def test_plan_against_the_base_branch(repo: ConfigRepo) -> None:
    repo.git("checkout", "-q", "-b", "rename")
    repo.bundle(field="exec_summary")
    repo.commit("rename summary", V2_AT)
    step = run_action(repo.root, V2_AT, command="plan", env="production", base="main")
    assert step.code == 2, step.out + step.err
    assert step.outputs["status"] == "breaking"
    report = json.loads(Path(step.outputs["report-path"]).read_text())
    assert report["schema"] == "agent-reconciler.plan/v1"
    assert any(a.startswith(f"::error file={TOOL_FILE},line=") for a in step.annotations)
    assert "| eu-west-1 |" in Path(step.outputs["markdown-path"]).read_text()


def test_validate(repo: ConfigRepo) -> None:
    ok = run_action(repo.root, T0, command="validate")
    assert ok.code == 0, ok.out + ok.err
    assert ok.outputs["status"] == "ok"
    repo.write("bundles/support-agent/bundle.yaml", "apiVersion: agent-reconciler/v1\nkind: Nope\n")
    bad = run_action(repo.root, T0, command="validate")
    assert bad.code == 1
    assert bad.outputs["status"] == "invalid"
    assert any(
        a.startswith("::error file=bundles/support-agent/bundle.yaml") for a in bad.annotations
    ), bad.out + bad.err


def test_a_config_repo_in_a_subfolder_annotates_from_the_workspace(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    repo = ConfigRepo(workspace / "config")
    repo.bundle()
    repo.write(
        "targets/production.yaml",
        inventory([{"name": "r", "source": {"type": "file", "path": "fleet/{bundle}.json"}}]),
    )
    repo.commit("v1", T0)
    v1 = _doc(repo, "HEAD")
    repo.bundle(field="exec_summary")
    repo.commit("v2", V2_AT)
    repo.write("fleet/support-agent.json", json.dumps(v1))
    step = run_action(
        workspace, V2_AT, command="audit", env="production", working_directory="config"
    )
    assert step.code == 2, step.out + step.err
    assert any(a.startswith(f"::error file=config/{TOOL_FILE},line=") for a in step.annotations)


def test_a_bad_environment_is_an_error(repo: ConfigRepo) -> None:
    step = run_action(repo.root, T0, command="audit", env="nowhere")
    assert step.code == 1
    assert step.outputs["status"] == "error"
    assert step.outputs["report-path"] == ""
    assert any(a.startswith("::error title=reconciler audit::") for a in step.annotations)
