"""Ignore rules and history lookups end to end, on file targets of a real git repo."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import reconciler
from tests.support.configrepo import T0, ConfigRepo, inventory

NOW = {"RECONCILER_NOW": (T0 + dt.timedelta(days=1)).isoformat()}
RULE = {
    "targets": ["pop-*"],
    "components": ["prompt/*"],
    "paths": ["metadata.etag"],
    "reason": "edges add their own etag",
    "owner": "platform-team",
}


def _doc(repo: ConfigRepo, rev: str = "HEAD") -> dict[str, Any]:
    return repo.render(rev).to_json()


def _place(repo: ConfigRepo, target: str, doc: dict[str, Any]) -> None:
    repo.write(f"fleet/{target}/support-agent.json", json.dumps(doc))


def _audit(repo: ConfigRepo) -> dict[str, Any]:
    run = reconciler(
        "--repo", repo.root, "audit", "--env", "production", "--format", "json", env=NOW
    )
    assert run.code in (0, 2), run.err
    return run.json()


@pytest.fixture
def repo(tmp_path: Path) -> ConfigRepo:
    repo = ConfigRepo(tmp_path / "config")
    repo.bundle()
    repo.commit("v1", T0)
    return repo


def _inventory(repo: ConfigRepo, **extra: Any) -> None:
    repo.write(
        "targets/production.yaml",
        inventory(
            [
                {
                    "name": "pop-a",
                    "kind": "pop",
                    "carries": ["prompt/*"],
                    "source": {"type": "file", "path": "fleet/pop-a/{bundle}.json"},
                },
            ],
            **extra,
        ),
    )


def test_ignored_difference_is_in_sync_and_still_listed(repo: ConfigRepo) -> None:
    _inventory(repo, ignore=[RULE])
    doc = _doc(repo)
    doc["components"]["prompt/system"]["metadata"] = {"etag": "W/abc"}
    _place(repo, "pop-a", doc)
    bundle = _audit(repo)["targets"][0]["bundles"][0]
    assert bundle["status"] == "in_sync"
    assert bundle["ignored"] == [
        {
            "component": "prompt/system",
            "path": "metadata.etag",
            "reason": "edges add their own etag",
        }
    ]


def test_expired_rule_stops_applying_loudly(repo: ConfigRepo) -> None:
    _inventory(repo, ignore=[RULE | {"expires": "2026-11-01"}])
    doc = _doc(repo)
    doc["components"]["prompt/system"]["metadata"] = {"etag": "W/abc"}
    _place(repo, "pop-a", doc)
    report = _audit(repo)
    assert report["targets"][0]["status"] == "drifted"
    assert any(f["code"] == "ignore_expired" for f in report["findings"])


def test_ignore_rule_does_not_hide_other_differences(repo: ConfigRepo) -> None:
    _inventory(repo, ignore=[RULE])
    doc = _doc(repo)
    doc["components"]["prompt/system"] = {"text": "edited by hand\n", "metadata": {"etag": "1"}}
    _place(repo, "pop-a", doc)
    bundle = _audit(repo)["targets"][0]["bundles"][0]
    assert bundle["status"] == "drifted"
    assert [c["path"] for c in bundle["changes"]] == ["text"]


def test_content_from_a_side_branch_is_drifted_and_named(repo: ConfigRepo) -> None:
    repo.git("checkout", "-q", "-b", "experiment")
    repo.bundle(prompt="An experiment nobody merged.\n")
    side = repo.commit("experiment", T0 + dt.timedelta(hours=1))
    experiment = _doc(repo)
    repo.git("checkout", "-q", "main")
    _inventory(repo)
    _place(repo, "pop-a", experiment)
    report = _audit(repo)
    assert report["targets"][0]["status"] == "drifted"
    named = [f for f in report["findings"] if f["code"] == "not_an_ancestor"]
    assert named and side[:7] in named[0]["message"]


def test_revert_to_older_content_maps_to_the_newest_equal_revision(repo: ConfigRepo) -> None:
    _inventory(repo)
    repo.bundle(prompt="v2 text\n")
    repo.commit("v2", T0 + dt.timedelta(hours=1))
    repo.bundle(prompt="You help customers.\n")  # v3 reverts the prompt to v1's
    repo.bundle(prompt="You help customers.\n", field="exec_summary")
    v3 = repo.commit("v3", T0 + dt.timedelta(hours=2))
    _place(repo, "pop-a", _doc(repo, "HEAD~2"))  # v1's prompt == v3's prompt: in sync
    bundle = _audit(repo)["targets"][0]["bundles"][0]
    assert bundle["status"] == "in_sync"
    assert bundle["observed_revision"] == v3
