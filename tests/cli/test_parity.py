"""``reconciler parity``: the config an eval ran with against what each target serves."""

from __future__ import annotations

import json
from pathlib import Path

from tests.servers.nginx import Nginx
from tests.support.cli import reconciler
from tests.support.configrepo import ConfigRepo, inventory


def _fleet(tmp_path: Path, nginx: Nginx) -> tuple[ConfigRepo, Path]:
    repo = ConfigRepo(tmp_path / "config")
    repo.bundle()
    served = tmp_path / "served"
    (served / "b").mkdir(parents=True)
    base = nginx.serve(served)
    repo.write(
        "targets/production.yaml",
        inventory(
            [
                {"name": "a", "source": {"type": "file", "path": "fleet/a/{bundle}.json"}},
                {"name": "b", "source": {"type": "http", "url": base + "b/{bundle}.json"}},
                {
                    "name": "pop",
                    "carries": ["prompt/*"],
                    "source": {"type": "file", "path": "fleet/pop/{bundle}.json"},
                },
            ]
        ),
    )
    repo.commit("v1")
    doc = reconciler("--repo", repo.root, "render", "support-agent").out
    for place in (repo.root / "fleet" / "a", repo.root / "fleet" / "pop", served / "b"):
        place.mkdir(parents=True, exist_ok=True)
        (place / "support-agent.json").write_text(doc)
    snapshot = tmp_path / "eval-run-42.json"
    snapshot.write_text(doc)
    return repo, snapshot


def test_same_agent_everywhere_is_exit_0(tmp_path: Path, nginx: Nginx) -> None:
    repo, snapshot = _fleet(tmp_path, nginx)
    run = reconciler("--repo", repo.root, "parity", "--env", "production", "--eval", snapshot)
    assert run.code == 0, run.out + run.err
    assert "every target serves the agent the eval ran with" in run.out


def test_a_different_temperature_names_its_path_and_exits_2(tmp_path: Path, nginx: Nginx) -> None:
    repo, snapshot = _fleet(tmp_path, nginx)
    evaluated = json.loads(snapshot.read_text())
    evaluated["components"]["model"]["params"]["temperature"] = 0.9
    snapshot.write_text(json.dumps(evaluated))
    run = reconciler(
        "--repo", repo.root, "parity", "--env", "production", "--eval", snapshot, "--format", "json"
    )
    assert run.code == 2
    report = run.json()
    assert report["same"] is False
    targets = {t["name"]: t for t in report["targets"]}
    paths = [f"{c['component']}.{c['path']}" for c in targets["a"]["changes"]]
    assert paths == ["model.params.temperature"]
    assert targets["pop"]["same"] is True  # a POP carrying prompts only runs the eval's prompts
    text = reconciler("--repo", repo.root, "parity", "--env", "production", "--eval", snapshot)
    assert "model.params.temperature" in text.out
    assert "not the agent in production" in text.out


def test_an_unobservable_target_is_a_difference(tmp_path: Path, nginx: Nginx) -> None:
    repo, snapshot = _fleet(tmp_path, nginx)
    (repo.root / "fleet" / "a" / "support-agent.json").unlink()
    run = reconciler("--repo", repo.root, "parity", "--env", "production", "--eval", snapshot)
    assert run.code == 2 and "a: DIFFERS" in run.out and "does not exist" in run.out


def test_a_missing_snapshot_is_an_error(tmp_path: Path, nginx: Nginx) -> None:
    repo, _ = _fleet(tmp_path, nginx)
    run = reconciler(
        "--repo", repo.root, "parity", "--env", "production", "--eval", tmp_path / "nope.json"
    )
    assert run.code == 1 and "eval snapshot" in run.err and "Traceback" not in run.err
