"""``converge``, ``rollback`` and ``rollout`` end to end on a real repo, files and nginx."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.servers.nginx import Nginx
from tests.servers.webhook import Webhook
from tests.support.cli import Run, reconciler
from tests.support.configrepo import ConfigRepo, inventory
from tests.support.fleet import four_targets, make_fleet_dirs


def _fleet(repo: ConfigRepo, nginx: Nginx, tmp_path: Path, **rollout: Any) -> None:
    served = tmp_path / "served"
    served.mkdir()
    targets = four_targets(nginx.serve(served))
    policy = {
        "waves": [
            {"name": "canary", "targets": ["canary"], "bake": "1s"},
            {"name": "rest", "targets": ["*"]},
        ],
        "progress_deadline": "30s",
    }
    policy.update(rollout)
    repo.write("targets/production.yaml", inventory(targets, rollout=policy))
    repo.write(".gitignore", "fleet/\n")
    make_fleet_dirs(repo.root)


@pytest.fixture
def repo(tmp_path: Path, nginx: Nginx) -> ConfigRepo:
    repo = ConfigRepo(tmp_path / "config")
    repo.bundle()
    _fleet(repo, nginx, tmp_path)
    repo.commit("v1")
    return repo


def _audit(repo: ConfigRepo) -> dict[str, Any]:
    return reconciler(
        "--repo", repo.root, "audit", "--env", "production", "--format", "json"
    ).json()


def test_converge_rolls_out_wave_by_wave_and_verifies(repo: ConfigRepo) -> None:
    run = reconciler("--repo", repo.root, "converge", "--env", "production", timeout=60)
    assert run.code == 0, run.out + run.err
    assert "converged" in run.out
    lines = run.out.splitlines()
    first_rest = min(i for i, line in enumerate(lines) if "-> eu" in line)
    canary = min(i for i, line in enumerate(lines) if "-> canary" in line)
    assert canary < first_rest  # the canary wave went first
    assert _audit(repo)["summary"]["in_sync"] == 4
    status = reconciler(
        "--repo", repo.root, "rollout", "status", "--env", "production", "--format", "json"
    ).json()["support-agent"]
    assert status["phase"] == "complete"
    assert [c["type"] for c in status["conditions"]] == ["Ready"]


def test_rollback_restores_verifies_and_quarantines(repo: ConfigRepo) -> None:
    assert reconciler("--repo", repo.root, "converge", "--env", "production").code == 0
    v1 = repo.git("rev-parse", "HEAD").strip()
    repo.bundle(field="exec_summary")
    repo.commit("v2: rename")
    assert reconciler("--repo", repo.root, "converge", "--env", "production").code == 0
    back = reconciler("--repo", repo.root, "rollback", "--env", "production", "--to", v1)
    assert back.code == 0, back.out + back.err
    assert "4 verified by re-fetching" in back.out
    report = _audit(repo)  # desired is still v2: every region now lags at v1
    regions = [t for t in report["targets"] if t["kind"] == "region"]
    assert {t["bundles"][0]["observed_revision"] for t in regions} == {v1}
    assert [t["status"] for t in report["targets"] if t["kind"] == "pop"] == ["in_sync"]
    again = reconciler("--repo", repo.root, "converge", "--env", "production")
    assert again.code == 2 and "QUARANTINED" in again.out
    regions = [t for t in _audit(repo)["targets"] if t["kind"] == "region"]
    assert {t["bundles"][0]["observed_revision"] for t in regions} == {v1}  # nothing written
    # A commit touching only targets/ keeps the quarantine; a content change lifts it.
    path = repo.root / "targets/production.yaml"
    path.write_text(path.read_text() + "\n")
    repo.commit("inventory only")
    assert reconciler("--repo", repo.root, "converge", "--env", "production").code == 2
    repo.bundle(field="exec_summary", prompt="Fixed prompt.\n")
    repo.commit("v3")
    assert reconciler("--repo", repo.root, "converge", "--env", "production").code == 0


def test_a_rollback_that_cannot_write_a_target_says_so_and_exits_2(repo: ConfigRepo) -> None:
    v1 = repo.git("rev-parse", "HEAD").strip()
    repo.bundle(prompt="v2\n")
    repo.commit("v2")
    assert reconciler("--repo", repo.root, "converge", "--env", "production").code == 0
    path = repo.root / "targets/production.yaml"
    config = json.loads(path.read_text())
    dead = {"type": "http", "url": "http://127.0.0.1:9/x.json"}  # nothing listens on port 9
    config["targets"].append({"name": "dead", "kind": "region", "source": dead})
    path.write_text(json.dumps(config))
    back = reconciler("--repo", repo.root, "rollback", "--env", "production", "--to", v1)
    assert back.code == 2, back.out + back.err
    assert "4 verified by re-fetching, 1 NOT verified" in back.out
    assert "  dead: unreachable; connection refused; apply failed: connection refused" in back.out
    regions = [t for t in _audit(repo)["targets"] if t["name"] in ("eu", "us", "canary")]
    assert {t["bundles"][0]["observed_revision"] for t in regions} == {v1}  # the rest went back


def test_rollback_to_desired_is_an_error(repo: ConfigRepo) -> None:
    run = reconciler("--repo", repo.root, "rollback", "--env", "production", "--to", "HEAD")
    assert run.code == 1 and "is the desired revision" in run.err


def test_resume_lifts_a_quarantine(repo: ConfigRepo) -> None:
    v1 = repo.git("rev-parse", "HEAD").strip()
    repo.bundle(prompt="v2\n")
    repo.commit("v2")
    assert reconciler("--repo", repo.root, "converge", "--env", "production").code == 0
    assert reconciler("--repo", repo.root, "rollback", "--env", "production", "--to", v1).code == 0
    assert reconciler("--repo", repo.root, "converge", "--env", "production").code == 2
    resumed = reconciler("--repo", repo.root, "rollout", "resume", "--env", "production")
    assert "quarantine lifted" in resumed.out
    assert reconciler("--repo", repo.root, "converge", "--env", "production").code == 0


def test_pause_blocks_converge_and_status_says_who(repo: ConfigRepo) -> None:
    repo.bundle(prompt="v2\n")
    repo.commit("v2")
    reconciler("--repo", repo.root, "converge", "--env", "production", "--timeout", "0s")
    paused = reconciler(
        "--repo",
        repo.root,
        "rollout",
        "pause",
        "--env",
        "production",
        "--reason",
        "investigating latency",
        env={"RECONCILER_ACTOR": "alice"},
    )
    assert "paused" in paused.out
    run = reconciler("--repo", repo.root, "converge", "--env", "production")
    assert run.code == 2 and "PAUSED by alice" in run.out
    status = reconciler("--repo", repo.root, "rollout", "status", "--env", "production")
    assert "paused by alice" in status.out and "investigating latency" in status.out
    assert "until the deadline" in status.out
    reconciler("--repo", repo.root, "rollout", "resume", "--env", "production")
    assert reconciler("--repo", repo.root, "converge", "--env", "production").code == 0
    # design §8 names no --reason: a pause without one still says who and that it was by hand
    repo.bundle(prompt="v3\n")
    repo.commit("v3")
    reconciler("--repo", repo.root, "converge", "--env", "production", "--timeout", "0s")
    pause = ("rollout", "pause", "--env", "production")
    assert reconciler("--repo", repo.root, *pause, env={"RECONCILER_ACTOR": "bob"}).code == 0
    status = reconciler("--repo", repo.root, "rollout", "status", "--env", "production")
    assert "paused by bob" in status.out and "paused by hand" in status.out


def test_dry_run_writes_nothing(repo: ConfigRepo) -> None:
    run = reconciler("--repo", repo.root, "converge", "--env", "production", "--dry-run")
    assert run.code == 0 and "would apply to canary" in run.out
    assert not (repo.root / "fleet/canary/support-agent.json").exists()
    assert json.loads(json.dumps(_audit(repo)))["summary"]["missing"] == 4


def test_aborting_a_stalled_rollout_resolves_its_alert(tmp_path: Path, webhook: Webhook) -> None:
    repo = ConfigRepo(tmp_path / "config")
    repo.bundle()
    targets = [
        {"name": "canary", "kind": "region", "source": {"type": "file", "path": "fleet/c.json"}},
        # Nothing listens on port 9: the last wave can never converge.
        {
            "name": "dead",
            "kind": "region",
            "source": {"type": "http", "url": "http://127.0.0.1:9/"},
        },
    ]
    policy = {
        "waves": [{"name": "canary", "targets": ["canary"]}, {"name": "rest", "targets": ["*"]}],
        "progress_deadline": "30s",
    }
    alerts = [{"type": "webhook", "url": "${TEST_WEBHOOK_URL}"}]
    repo.write("targets/production.yaml", inventory(targets, rollout=policy, alerts=alerts))
    repo.write(".gitignore", "fleet/\n")
    (repo.root / "fleet").mkdir()
    repo.commit("v1")

    def at(seconds: int, *args: str) -> Run:
        env = {"RECONCILER_NOW": str(1_800_000_000 + seconds), "TEST_WEBHOOK_URL": webhook.url}
        return reconciler("--repo", repo.root, *args, "--env", "production", env=env)

    # Long enough for the canary to converge and the dead wave to begin, even on a busy machine.
    assert at(0, "converge", "--timeout", "4s").code == 2  # out of time at the dead target
    assert at(100, "converge", "--timeout", "1s").code == 2  # past the deadline: stalled
    [stalled] = webhook.wait_for(1)
    assert (stalled["condition"], stalled["state"]) == ("stalled", "firing")

    aborted = at(120, "rollout", "abort")
    assert aborted.code == 0 and "support-agent: aborted" in aborted.out
    resolved = webhook.wait_for(2)[1]
    assert (resolved["condition"], resolved["state"]) == ("stalled", "resolved")
    assert "aborted by" in resolved["message"]
