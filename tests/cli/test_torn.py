"""A torn bundle: targets of one region (store, prompt registry) on different revisions."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from tests.support.cli import reconciler
from tests.support.configrepo import T0, ConfigRepo, inventory

#: One region in two parts: its config store (everything) and its prompt registry (prompts).
REGION = [
    {
        "name": "ap-south-1-store",
        "group": "ap-south-1",
        "source": {"type": "file", "path": "fleet/ap-south-1-store/{bundle}.json"},
    },
    {
        "name": "ap-south-1-prompts",
        "group": "ap-south-1",
        "kind": "prompt-registry",
        "carries": ["prompt/*"],
        "source": {"type": "file", "path": "fleet/ap-south-1-prompts/{bundle}.json"},
    },
]


def _place(repo: ConfigRepo, target: str, rev: str) -> None:
    doc = reconciler("--repo", repo.root, "render", "support-agent", "--revision", rev).out
    repo.write(f"fleet/{target}/support-agent.json", doc)


def test_a_region_split_across_revisions_is_one_torn_finding(tmp_path: Path) -> None:
    repo = ConfigRepo(tmp_path / "config")
    repo.bundle()
    us_east = {
        "name": "us-east-1-store",
        "group": "us-east-1",
        "source": {"type": "file", "path": "fleet/us-east-1-store/{bundle}.json"},
    }
    repo.write("targets/production.yaml", inventory([*REGION, us_east]))
    v1 = repo.commit("v1", T0)
    repo.bundle(prompt="You help customers, briefly.\n")
    v2 = repo.commit("v2", T0 + dt.timedelta(minutes=5))
    _place(repo, "ap-south-1-store", v2)
    _place(repo, "ap-south-1-prompts", v1)
    _place(repo, "us-east-1-store", v2)
    env = {"RECONCILER_NOW": (T0 + dt.timedelta(minutes=6)).isoformat()}
    run = reconciler(
        "--repo",
        repo.root,
        "audit",
        "--env",
        "production",
        "--format",
        "json",
        "--fail-on",
        "torn",
        env=env,
    )
    assert run.code == 2, run.err
    torn = [f for f in run.json()["findings"] if f["code"] == "torn"]
    assert len(torn) == 1
    message = torn[0]["message"]
    assert message.startswith("ap-south-1 runs a torn support-agent")
    assert f"ap-south-1-store at {v2[:7]}" in message
    assert f"ap-south-1-prompts at {v1[:7]}" in message
    _place(repo, "ap-south-1-prompts", v2)
    healed = reconciler(
        "--repo",
        repo.root,
        "audit",
        "--env",
        "production",
        "--format",
        "json",
        "--fail-on",
        "torn",
        env=env,
    )
    assert healed.code == 0
    assert not [f for f in json.loads(healed.out)["findings"] if f["code"] == "torn"]


def test_a_part_that_carries_what_a_newer_revision_kept_is_not_torn(tmp_path: Path) -> None:
    """The demo's case: v2 changes only a model parameter, so the prompt registry (prompts only)
    runs v1 as much as v2 — its observed revision is v2, the newest that matches — and the
    region's store still at v1 is not torn from it. Once the prompt changes too, it is torn."""
    repo = ConfigRepo(tmp_path / "config")
    repo.bundle()
    repo.write("targets/production.yaml", inventory(REGION))
    v1 = repo.commit("v1", T0)
    repo.bundle(temperature=0.5)
    v2 = repo.commit("v2: the model parameters only", T0 + dt.timedelta(minutes=5))
    _place(repo, "ap-south-1-store", v1)
    _place(repo, "ap-south-1-prompts", v2)
    env = {"RECONCILER_NOW": (T0 + dt.timedelta(minutes=6)).isoformat()}
    args = ("--repo", repo.root, "audit", "--env", "production", "--format", "json")
    run = reconciler(*args, env=env)
    found = run.json()
    statuses = {t["name"]: t["bundles"][0] for t in found["targets"]}
    assert statuses["ap-south-1-prompts"]["observed_revision"] == v2
    assert statuses["ap-south-1-store"]["status"] == "lagging"
    assert not [f for f in found["findings"] if f["code"] == "torn"]

    repo.bundle(temperature=0.5, prompt="You help customers, briefly.\n")
    repo.commit("v3: the prompt too", T0 + dt.timedelta(minutes=7))
    _place(repo, "ap-south-1-prompts", "HEAD")
    env = {"RECONCILER_NOW": (T0 + dt.timedelta(minutes=8)).isoformat()}
    torn = [f for f in reconciler(*args, env=env).json()["findings"] if f["code"] == "torn"]
    assert len(torn) == 1
    assert f"ap-south-1-store at {v1[:7]}" in torn[0]["message"]
