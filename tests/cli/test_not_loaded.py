"""Control plane vs data plane: the store holds v2, the serving process still runs v1."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from tests.servers.nginx import Nginx
from tests.support.cli import reconciler
from tests.support.configrepo import T0, ConfigRepo, inventory


def test_store_ahead_of_its_process_is_not_loaded_with_the_age(
    tmp_path: Path, nginx: Nginx
) -> None:
    repo = ConfigRepo(tmp_path / "config")
    repo.bundle()
    served = tmp_path / "process"
    served.mkdir()
    base = nginx.serve(served)
    repo.write(
        "targets/production.yaml",
        inventory(
            [
                {
                    "name": "us-east-1",
                    "source": {"type": "file", "path": "fleet/us/{bundle}.json"},
                    "probe": {"url": base + "loaded/{bundle}.json"},
                },
                {
                    "name": "eu-west-1",
                    "source": {"type": "file", "path": "fleet/eu/{bundle}.json"},
                    "probe": {"url": base + "gone/{bundle}.json"},
                },
            ]
        ),
    )
    v1 = repo.commit("v1", T0)
    repo.bundle(prompt="v2 prompt\n")
    repo.commit("v2", T0 + dt.timedelta(hours=1))

    def render(rev: str) -> str:
        return reconciler("--repo", repo.root, "render", "support-agent", "--revision", rev).out

    repo.write("fleet/us/support-agent.json", render("HEAD"))
    repo.write("fleet/eu/support-agent.json", render("HEAD"))
    (served / "loaded").mkdir()
    (served / "loaded" / "support-agent.json").write_text(render(v1))
    env = {"RECONCILER_NOW": (T0 + dt.timedelta(hours=3)).isoformat()}
    run = reconciler(
        "--repo", repo.root, "audit", "--env", "production", "--format", "json", env=env
    )
    report = run.json()
    targets = {t["name"]: t for t in report["targets"]}
    us = targets["us-east-1"]
    assert us["status"] == "not_loaded"
    assert (
        us["error"] == f"store has {report['desired']['revision'][:7]}, process serves "
        f"{v1[:7]} for 2h00m"
    )
    assert us["bundles"][0]["probe"]["observed_revision"] == v1
    assert report["summary"]["not_loaded"] == 1
    # A probe that cannot be read leaves the store's status, and says why.
    eu = targets["eu-west-1"]
    assert eu["status"] == "in_sync"
    assert "404" in eu["bundles"][0]["probe"]["error"]
    assert run.code == 0  # not_loaded is not in the default --fail-on
    strict = reconciler(
        "--repo", repo.root, "audit", "--env", "production", "--fail-on", "not_loaded", env=env
    )
    assert strict.code == 2 and "process serves" in strict.out
