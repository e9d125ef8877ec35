"""Required evals end to end (issue 13, item 3): ``rollout.require_eval`` keeps ``converge`` from
writing anything until ``eval record`` (or ``parity --record``) holds a passing eval of exactly
the desired digest; ``plan`` says whether one exists."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.agentrepo import AgentRepo, file_target
from tests.support.cli import Run, reconciler

NEW_MODEL = "2025-08-07"


@pytest.fixture
def repo(tmp_path: Path) -> AgentRepo:
    """Two regions on v1; v2 bumps the model; evals are required."""
    repo = AgentRepo(tmp_path / "config")
    repo.agent()
    repo.targets(
        [file_target("canary"), file_target("eu")],
        rollout={
            "waves": [
                {"name": "canary", "targets": ["canary"]},
                {"name": "rest", "targets": ["*"]},
            ],
            "require_eval": True,
        },
    )
    repo.commit("v1")
    repo.place("canary")
    repo.place("eu")
    repo.agent(version=NEW_MODEL)
    repo.commit("v2: model version only")
    return repo


def cli(repo: AgentRepo, *args: str) -> Run:
    return reconciler("--repo", repo.root, *args, timeout=60)


def record(repo: AgentRepo, digest: str, result: str, *extra: str) -> Run:
    return cli(repo, "eval", "record", "--env", "production", "--digest", digest,
               "--result", result, *extra)  # fmt: skip


def test_converge_writes_nothing_until_a_passing_eval_of_the_desired_digest(
    repo: AgentRepo,
) -> None:
    digest = repo.digest()
    dry = cli(repo, "converge", "--env", "production", "--dry-run")
    assert dry.out.strip() == "support-agent: would apply to nothing", dry.out + dry.err
    run = cli(repo, "converge", "--env", "production")
    assert run.code == 2, run.out + run.err
    assert "AWAITING EVAL" in run.out
    assert "AwaitingEval: 0/2 targets; awaiting a passing eval (rollout.require_eval): " in run.out
    hint = f"reconciler eval record --env production --digest {digest} --result passed"
    assert hint in run.out
    assert "apply" not in run.out and repo.runs_version("canary") == "2025-04-14"
    status = json.loads(
        cli(repo, "rollout", "status", "--env", "production", "--format", "json").out
    )
    ready = next(c for c in status["support-agent"]["conditions"] if c["type"] == "Ready")
    assert ready["reason"] == "AwaitingEval"

    # An eval of other content does not count, nor a failed one of this content.
    assert record(repo, repo.digest("HEAD~1"), "passed").code == 0
    failed = record(repo, digest, "failed", "--report", "https://evals.example/run/7")
    assert failed.code == 0, failed.err
    assert f"recorded in production: eval of {digest} failed" in failed.out
    still = cli(repo, "converge", "--env", "production")
    assert still.code == 2 and "the newest eval of" in still.out and "failed" in still.out
    assert repo.runs_version("canary") == "2025-04-14"

    passed = record(repo, digest, "passed", "--report", "https://evals.example/run/8")
    assert passed.code == 0, passed.err
    assert "it is the desired digest of support-agent" in passed.out
    done = cli(repo, "converge", "--env", "production")
    assert done.code == 0, done.out + done.err
    assert [repo.runs_version(n) for n in ("canary", "eu")] == [NEW_MODEL, NEW_MODEL]


def test_plan_says_whether_the_new_digest_was_evaluated(repo: AgentRepo) -> None:
    digest = repo.digest()
    run = cli(repo, "plan", "--env", "production", "--base", "HEAD~1", "--format", "json")
    assert run.code == 0, run.err  # a model bump is behavioral: nothing fails the plan
    (said,) = [f for f in run.json()["findings"] if f["code"] == "eval"]
    assert said["level"] == "warning" and said["bundle"] == "support-agent"
    assert said["message"] == (
        f"model changed: no eval of {digest} recorded (no state store here); "
        "rollout.require_eval: no wave starts before a passing one"
    )
    record(repo, digest, "passed", "--report", "https://evals.example/run/8")
    text = cli(repo, "plan", "--env", "production", "--base", "HEAD~1")
    assert f"model changed: eval of {digest}: passed (by " in text.out
    assert "report https://evals.example/run/8)" in text.out


def test_parity_record_writes_a_passing_eval_only_when_parity_holds(
    repo: AgentRepo, tmp_path: Path
) -> None:
    snapshot = tmp_path / "eval-run.json"
    snapshot.write_text(cli(repo, "render", "support-agent", "--revision", "HEAD~1").out)
    old = repo.digest("HEAD~1")
    held = cli(repo, "parity", "--env", "production", "--eval", str(snapshot), "--record")
    assert held.code == 0, held.out + held.err
    assert f"recorded in production: eval of {old} passed" in held.err

    snapshot.write_text(cli(repo, "render", "support-agent").out)  # what no target runs yet
    differs = cli(repo, "parity", "--env", "production", "--eval", str(snapshot), "--record")
    assert differs.code == 2
    assert "nothing recorded: parity does not hold" in differs.err
    assert cli(repo, "converge", "--env", "production").code == 2  # still no eval of v2


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--digest", "sha256:abc", "--result", "passed"), "is not a bundle digest"),
        (("--digest", "sha256:" + "ab" * 32, "--result", "great"), "Invalid value for '--result'"),
    ],
)
def test_eval_record_refuses_what_is_not_a_record(
    repo: AgentRepo, args: tuple[str, ...], says: str
) -> None:
    run = cli(repo, "eval", "record", "--env", "production", *args)
    assert run.code in (1, 2) and says in run.err
    assert not (repo.root / ".reconciler" / "state.db").exists()


def test_eval_record_names_an_unknown_environment(repo: AgentRepo) -> None:
    run = record(repo, "sha256:" + "ab" * 32, "passed")
    assert run.code == 0
    wrong = cli(repo, "eval", "record", "--env", "prod", "--digest", "sha256:" + "ab" * 32,
                "--result", "passed")  # fmt: skip
    assert wrong.code == 1 and "prod" in wrong.err
