"""design §6: stalled comes from git times alone, unless converge or the daemon recorded the
rollout of this very content: then its Stalled condition is the authority."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from tests.support.cli import Run, reconciler
from tests.support.configrepo import T0, ConfigRepo, inventory


def _repo(tmp_path: Path, targets: list[dict[str, Any]], waves: list[dict[str, Any]]) -> ConfigRepo:
    repo = ConfigRepo(tmp_path / "config")
    repo.bundle()
    policy = {"waves": waves, "progress_deadline": "30m"}
    repo.write("targets/production.yaml", inventory(targets, rollout=policy))
    repo.write(".gitignore", "fleet/\n")
    (repo.root / "fleet").mkdir()
    return repo


def _at(repo: ConfigRepo, when: dt.datetime, *args: str) -> Run:
    env = {"RECONCILER_NOW": when.isoformat()}
    return reconciler("--repo", repo.root, *args, env=env)


def _audit(repo: ConfigRepo, when: dt.datetime) -> tuple[int, dict[str, Any]]:
    run = _at(repo, when, "audit", "--env", "production", "--format", "json")
    return run.code, run.json()


def _stalled_findings(report: dict[str, Any]) -> list[Any]:
    return [f["target"] for f in report["findings"] if f["code"] == "stalled"]


def test_a_canary_baking_is_not_stalled_however_old_the_commit(tmp_path: Path) -> None:
    files = [("canary", "fleet/canary.json"), ("eu", "fleet/eu.json")]
    targets = [{"name": n, "source": {"type": "file", "path": p}} for n, p in files]
    waves = [
        {"name": "canary", "targets": ["canary"], "bake": "2h"},
        {"name": "rest", "targets": ["*"]},
    ]
    repo = _repo(tmp_path, targets, waves)
    repo.commit("v1", T0)
    v1 = reconciler("--repo", repo.root, "render", "support-agent").out
    for _, path in files:
        repo.write(path, v1)  # the fleet runs v1 (placed by hand: no v1 rollout on record)
    repo.bundle(prompt="v2\n")
    repo.commit("v2", T0 + dt.timedelta(hours=1))
    later = T0 + dt.timedelta(hours=5)  # eu lags 4h: past 30m + the canary's 2h bake

    # Git times alone (no rollout of v2 recorded yet): stalled.
    code, report = _audit(repo, later)
    assert (code, report["summary"]["stalled"]) == (2, True)
    assert _stalled_findings(report) == ["canary", "eu"]

    # converge starts the v2 rollout: the canary converges and bakes; eu waits its turn.
    _at(repo, later, "converge", "--env", "production", "--timeout", "1s")
    code, report = _audit(repo, later + dt.timedelta(minutes=10))
    assert report["summary"]["lagging"] == 1
    assert (code, report["summary"]["stalled"], _stalled_findings(report)) == (0, False, [])


def test_a_rollout_stuck_behind_an_unreachable_target_is_stalled(tmp_path: Path) -> None:
    targets = [
        {"name": "canary", "source": {"type": "file", "path": "fleet/canary.json"}},
        {"name": "dead", "source": {"type": "http", "url": "http://127.0.0.1:9/{bundle}.json"}},
    ]
    waves = [{"name": "canary", "targets": ["canary"]}, {"name": "rest", "targets": ["*"]}]
    repo = _repo(tmp_path, targets, waves)
    repo.commit("v1", T0)
    # Long enough for the canary to converge and the rest wave to begin (dead never answers).
    _at(repo, T0, "converge", "--env", "production", "--timeout", "4s")
    code, report = _audit(repo, T0 + dt.timedelta(minutes=10))
    assert report["summary"]["stalled"] is False  # within the deadline: not stalled yet
    # Nothing stepped the rollout since (converge exited): past its deadline it is stalled
    # as of now all the same, although no target is lagging (git alone would see nothing).
    code, report = _audit(repo, T0 + dt.timedelta(hours=1))
    assert (code, report["summary"]["stalled"]) == (2, True)

    stuck = T0 + dt.timedelta(hours=1)
    assert _at(repo, stuck, "converge", "--env", "production", "--timeout", "1s").code == 2
    code, report = _audit(repo, stuck + dt.timedelta(minutes=1))
    assert (code, report["summary"]["stalled"], _stalled_findings(report)) == (2, True, ["dead"])
    [finding] = [f for f in report["findings"] if f["code"] == "stalled"]
    assert "connection refused" in finding["message"]
