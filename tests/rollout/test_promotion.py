"""design §14, end to end through the real CLI on one shared state: staging -> production.

Production's rollout of a content digest waits (AwaitingPromotion) until staging completed that
same digest and held it for ``soak``; a staging rollback during the soak starts the soak over;
an overlay-only difference between the environments still promotes. Time is RECONCILER_NOW.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from tests.support.cli import Run, reconciler
from tests.support.configrepo import T0, ConfigRepo, inventory

HOUR = dt.timedelta(hours=1)


def _targets(env: str, names: list[str]) -> list[dict[str, Any]]:
    return [{"name": n, "source": {"type": "file", "path": f"fleet/{env}/{n}.json"}} for n in names]


def _repo(tmp_path: Path) -> ConfigRepo:
    repo = ConfigRepo(tmp_path / "config")
    repo.bundle()
    policy = {"progress_deadline": "30m"}
    staging = _targets("staging", ["stg-1"])
    production = _targets("production", ["prod-us", "prod-eu"])
    repo.write("targets/staging.yaml", inventory(staging, environment="staging", rollout=policy))
    promotion = {"from": "staging", "soak": "2h"}
    repo.write(
        "targets/production.yaml", inventory(production, rollout=policy, promotion=promotion)
    )
    # prod-eu runs an overlay of its own: its documents differ from staging's, its content not.
    repo.write(
        "bundles/support-agent/overlays/prod-eu.yaml", "model: {params: {temperature: 0.5}}\n"
    )
    repo.write(".gitignore", "fleet/\n")
    return repo


def _at(repo: ConfigRepo, when: dt.datetime, *args: str) -> Run:
    return reconciler("--repo", repo.root, *args, env={"RECONCILER_NOW": when.isoformat()})


def _place(repo: ConfigRepo, env: str, names: list[str]) -> None:
    """Each target runs what HEAD renders for it (placed by hand: no rollout recorded)."""
    for name in names:
        body = reconciler("--repo", repo.root, "render", "support-agent", "--target", name).out
        repo.write(f"fleet/{env}/{name}.json", body)


def _ran(repo: ConfigRepo, env: str, name: str) -> str:
    return json.loads((repo.root / f"fleet/{env}/{name}.json").read_text())["digest"]


def test_production_waits_for_staging_to_complete_and_soak(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    v0 = repo.commit("v0", T0 - HOUR)
    _place(repo, "staging", ["stg-1"])
    _place(repo, "production", ["prod-us", "prod-eu"])
    before = _ran(repo, "production", "prod-eu")
    repo.bundle(prompt="v1\n")
    repo.commit("v1", T0)

    # Staging has not started v1: production waits, writes nothing, and says so.
    run = _at(repo, T0, "converge", "--env", "production")
    assert run.code == 2, run.err
    assert "WAITING at wave 1/1 — AwaitingPromotion: staging has not started" in run.out
    assert "apply" not in run.out
    dry = _at(repo, T0, "converge", "--env", "production", "--dry-run")
    assert "support-agent: would wait — AwaitingPromotion: staging has not started" in dry.out

    assert _at(repo, T0, "converge", "--env", "staging").code == 0

    # Completed, soaking: 2h from T0; the wait is legitimate, past the 30m deadline too.
    run = _at(repo, T0 + HOUR, "converge", "--env", "production")
    assert run.code == 2
    assert "staging completed" in run.out and "(1h00m of soak left)" in run.out
    status = _at(repo, T0 + HOUR, "rollout", "status", "--env", "production", "--format", "json")
    waiting = status.json()["support-agent"]["waiting"]
    assert waiting["reason"] == "AwaitingPromotion"
    assert 3600 <= waiting["left_seconds"] < 3610  # staging's converge took a moment
    later = T0 + 90 * dt.timedelta(minutes=1)
    report = _at(repo, later, "audit", "--env", "production", "--format", "json").json()
    assert report["summary"]["stalled"] is False
    skew = _at(repo, later, "skew", "--env", "production").out
    assert "WAITING at wave 1/1 — AwaitingPromotion: staging completed" in skew
    text = _at(repo, T0 + HOUR, "rollout", "status", "--env", "production").out
    assert "1h00m of soak left" in text and "deadline: stopped while it waits" in text

    # A staging rollback during the soak: production waits again ...
    assert _at(repo, T0 + HOUR, "rollback", "--env", "staging", "--to", v0).code == 0
    run = _at(repo, T0 + 2 * HOUR + dt.timedelta(minutes=5), "converge", "--env", "production")
    assert run.code == 2 and "staging rolled back" in run.out
    # ... and once staging holds it again, the soak counts from its new completion.
    assert _at(repo, T0 + 3 * HOUR, "rollout", "resume", "--env", "staging").code == 0
    assert _at(repo, T0 + 3 * HOUR, "converge", "--env", "staging").code == 0
    run = _at(repo, T0 + 5 * HOUR - dt.timedelta(seconds=1), "converge", "--env", "production")
    assert run.code == 2 and "s of soak left)" in run.out
    assert _ran(repo, "production", "prod-eu") == before  # nothing written while it waited

    # One interval (here: one converge) after the soak ends, production starts and completes;
    # prod-eu's overlay made its documents differ from staging's: the content digest is one.
    run = _at(repo, T0 + 5 * HOUR + dt.timedelta(seconds=10), "converge", "--env", "production")
    assert run.code == 0, run.out + run.err
    assert "apply support-agent -> prod-eu" in run.out
    assert _ran(repo, "production", "prod-eu") != before


def test_a_content_difference_does_not_promote(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    repo.commit("v1", T0)
    assert _at(repo, T0, "converge", "--env", "staging").code == 0
    repo.bundle(prompt="v2\n")  # a change of the bundle's own content
    repo.commit("v2", T0 + HOUR)
    plan = _at(repo, T0 + 4 * HOUR, "plan", "--env", "production", "--format", "json").json()
    [waiting] = [f for f in plan["findings"] if f["code"] == "waiting"]
    assert waiting["message"].startswith("would wait: AwaitingPromotion: staging has not started")
    run = _at(repo, T0 + 4 * HOUR, "converge", "--env", "production")
    assert run.code == 2 and "staging has not started" in run.out


def test_a_stalled_staging_stalls_the_wait_with_its_reason(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    dead = {"name": "stg-2", "source": {"type": "http", "url": "http://127.0.0.1:9/x.json"}}
    staging = [*_targets("staging", ["stg-1"]), dead]
    policy = {"progress_deadline": "30m"}
    repo.write("targets/staging.yaml", inventory(staging, environment="staging", rollout=policy))
    repo.commit("v1", T0)
    assert _at(repo, T0, "converge", "--env", "staging", "--timeout", "1s").code == 2
    run = _at(repo, T0 + HOUR, "converge", "--env", "production")
    assert run.code == 2
    assert "STALLED" in run.out
    assert "staging has not completed" in run.out and "it is stalled" in run.out
    report = _at(repo, T0 + HOUR, "audit", "--env", "production", "--format", "json").json()
    assert report["summary"]["stalled"] is True


def test_an_unreadable_upstream_is_a_loud_wait_never_a_pass(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    repo.commit("v1", T0)
    (repo.root / "targets/staging.yaml").write_text("environment: [\n")  # staging's config broke
    run = _at(repo, T0, "converge", "--env", "production")
    assert run.code == 2
    assert "cannot read staging's state" in run.out
    assert "apply" not in run.out
