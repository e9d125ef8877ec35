"""One verdict, whoever asks (design §6): for the same repo, state and clock, ``audit``, ``skew``,
``rollout status``, the hourly CI check and the daemon's ``/status`` and metrics agree on stalled
and quarantined."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.daemon.support import DaemonProcess
from tests.servers.health import Health, running_health
from tests.support.cli import reconciler
from tests.support.configrepo import T0, ConfigRepo, inventory

HOUR = dt.timedelta(hours=1)
ENV = ("--env", "production")


@pytest.fixture
def health() -> Iterator[Health]:
    with running_health() as server:
        yield server


def _file(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "source": {"type": "file", "path": f"fleet/{name}.json"}, **extra}


def _repo(tmp_path: Path, targets: list[dict[str, Any]], **policy: Any) -> ConfigRepo:
    repo = ConfigRepo(tmp_path / "config")
    repo.bundle()
    rollout = {"progress_deadline": "30m", **policy}
    repo.write("targets/production.yaml", inventory(targets, rollout=rollout))
    repo.write(".gitignore", "fleet/\n")
    (repo.root / "fleet").mkdir()
    return repo


def _at(repo: ConfigRepo, when: dt.datetime, *args: str) -> Any:
    return reconciler("--repo", repo.root, *args, env={"RECONCILER_NOW": when.isoformat()})


def paused_past_its_deadline(tmp_path: Path, health: Health) -> tuple[ConfigRepo, dt.datetime]:
    health.script([], default="fail")
    targets = [_file("canary", health={"url": health.url, "timeout": "2s"}), _file("eu")]
    waves = [{"name": "canary", "targets": ["canary"]}, {"name": "rest", "targets": ["*"]}]
    repo = _repo(tmp_path, targets, waves=waves)
    repo.commit("v1", T0)
    assert _at(repo, T0, "converge", *ENV, "--timeout", "10s").code == 2
    return repo, T0 + HOUR


def stuck_behind_an_unreachable_target(
    tmp_path: Path, health: Health
) -> tuple[ConfigRepo, dt.datetime]:
    dead = {"name": "dead", "source": {"type": "http", "url": "http://127.0.0.1:9/{bundle}.json"}}
    waves = [{"name": "canary", "targets": ["canary"]}, {"name": "rest", "targets": ["*"]}]
    repo = _repo(tmp_path, [_file("canary"), dead], waves=waves)
    repo.commit("v1", T0)
    assert _at(repo, T0, "converge", *ENV, "--timeout", "4s").code == 2
    return repo, T0 + HOUR


def a_canary_baking(tmp_path: Path, health: Health) -> tuple[ConfigRepo, dt.datetime]:
    waves = [
        {"name": "canary", "targets": ["canary"], "bake": "2h"},
        {"name": "rest", "targets": ["*"]},
    ]
    repo = _repo(tmp_path, [_file("canary"), _file("eu")], waves=waves)
    repo.commit("v1", T0)
    assert _at(repo, T0, "converge", *ENV, "--timeout", "3s").code == 2  # out of time: baking
    return repo, T0 + dt.timedelta(minutes=40)


def rolled_back_and_held(tmp_path: Path, health: Health) -> tuple[ConfigRepo, dt.datetime]:
    repo = _repo(tmp_path, [_file("us"), _file("eu")])
    repo.commit("v46", T0)
    repo.git("tag", "v46")
    repo.bundle(field="exec_summary")
    repo.commit("v47", T0 + HOUR)
    assert _at(repo, T0 + HOUR, "converge", *ENV).code == 0
    assert _at(repo, T0 + 2 * HOUR, "rollback", *ENV, "--to", "v46").code == 0
    return repo, T0 + 9 * HOUR


Scenario = Callable[[Path, Health], tuple[ConfigRepo, dt.datetime]]


def _daemon_view(repo: ConfigRepo, when: dt.datetime) -> tuple[bool, bool, float]:
    """stalled and quarantined from the daemon's /status, and its stalled metric."""
    env = {"RECONCILER_NOW": when.isoformat()}
    daemon = DaemonProcess(repo.root, "--interval", "1h", env=env)
    try:
        status = daemon.wait_until(lambda s: True, what="the first audit")
        metrics = daemon.get("/metrics")[1].decode()
    finally:
        daemon.kill()
    found = re.search(r"^reconciler_rollout_stalled\{[^}]*\} (\S+)$", metrics, re.M)
    assert found, metrics
    summary = status["summary"]
    return summary["stalled"], bool(summary.get("quarantined")), float(found.group(1))


@pytest.mark.parametrize(
    ("scenario", "stalled", "quarantined"),
    [
        pytest.param(paused_past_its_deadline, True, False, id="paused past its deadline"),
        pytest.param(stuck_behind_an_unreachable_target, True, False, id="stuck behind a dead one"),
        pytest.param(a_canary_baking, False, False, id="a canary baking"),
        pytest.param(rolled_back_and_held, False, True, id="rolled back and held"),
    ],
)
def test_every_consumer_gives_the_same_verdict(
    tmp_path: Path, health: Health, scenario: Scenario, stalled: bool, quarantined: bool
) -> None:
    repo, when = scenario(tmp_path, health)
    audit = _at(repo, when, "audit", *ENV, "--format", "json")
    summary = audit.json()["summary"]
    verdicts = {"audit": (summary["stalled"], bool(summary.get("quarantined")))}

    hourly = _at(repo, when, "audit", *ENV, "--fail-on", "stalled")  # the hourly workflow
    skew = _at(repo, when, "skew", *ENV)
    status = json.loads(_at(repo, when, "rollout", "status", *ENV, "--format", "json").out)
    rollout = status["support-agent"]
    verdicts["rollout status"] = (rollout["stalled"], rollout["quarantined"])
    verdicts["skew"] = ("STALLED" in skew.out, "QUARANTINED" in skew.out)
    verdicts["hourly"] = (hourly.code == 2, quarantined)
    daemon_stalled, daemon_held, metric = _daemon_view(repo, when)
    verdicts["daemon /status"] = (daemon_stalled, daemon_held)
    verdicts["daemon metrics"] = (metric == 1.0, daemon_held)

    assert verdicts == dict.fromkeys(verdicts, (stalled, quarantined)), verdicts
    if stalled or quarantined:
        assert audit.code == 2
    assert skew.code == audit.code


def test_without_state_git_time_decides_and_every_cli_consumer_agrees(tmp_path: Path) -> None:
    repo = _repo(tmp_path, [_file("a")])
    v1 = repo.commit("v1", T0)
    (repo.root / "fleet" / "a.json").write_text(
        reconciler("--repo", repo.root, "render", "support-agent", "--revision", v1).out
    )
    repo.bundle(prompt="v2\n")
    repo.commit("v2", T0 + HOUR)
    when = T0 + 3 * HOUR  # two hours behind, past the 30m deadline
    summary = _at(repo, when, "audit", *ENV, "--format", "json").json()["summary"]
    assert summary["stalled"] is True
    assert _at(repo, when, "audit", *ENV, "--fail-on", "stalled").code == 2
    skew = _at(repo, when, "skew", *ENV)
    assert skew.code == 2 and "STALLED" in skew.out
    assert not (repo.root / ".reconciler" / "state.db").exists(), "read-only commands make none"
