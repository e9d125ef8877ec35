"""Staged delivery's settings (design §12) checked by ``validate``, and a ``switch: copy`` that
the server refuses: one line naming the target, and its group stays whole."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.servers.nginx import Nginx
from tests.support.cli import reconciler, validate_errors
from tests.support.configrepo import ConfigRepo, inventory


@pytest.fixture
def repo(tmp_path: Path) -> ConfigRepo:
    repo = ConfigRepo(tmp_path / "config")
    repo.bundle()
    repo.commit("v1")
    return repo


def _http(**source: Any) -> list[dict[str, Any]]:
    return [
        {"name": "web", "source": {"type": "http", "url": "http://127.0.0.1:9/a.json", **source}}
    ]


@pytest.mark.parametrize(
    ("targets", "rollout", "needle"),
    [
        (_http(stage_url="http://127.0.0.1:9/a.json.staged/x.json"), {}, "{digest_hex}"),
        (_http(switch="copy"), {}, "switch: copy needs a stage_url"),
        (_http(switch="move"), {}, "switch"),
        (_http(), {"keep_staged": 0}, "keep_staged"),
    ],
    ids=["stage_url-without-digest", "copy-without-stage_url", "unknown-switch", "keep_staged-0"],
)
def test_validate_refuses_bad_staging_settings(
    repo: ConfigRepo, targets: list[dict[str, Any]], rollout: dict[str, Any], needle: str
) -> None:
    repo.write("targets/production.yaml", inventory(targets, rollout=rollout))
    errors = validate_errors(repo.root)
    assert any(needle in line for line in errors), errors


def test_good_staging_settings_validate(repo: ConfigRepo) -> None:
    stage = "http://127.0.0.1:9/{bundle}.json.staged/{digest_hex}.json"
    repo.write(
        "targets/production.yaml",
        inventory(_http(stage_url=stage, switch="copy"), rollout={"keep_staged": 5}),
    )
    run = reconciler("--repo", repo.root, "validate")
    assert run.code == 0, run.err


def test_switch_copy_refused_by_the_server_names_the_target_and_the_group_stays_whole(
    repo: ConfigRepo, nginx: Nginx, tmp_path: Path
) -> None:
    served = tmp_path / "served"
    served.mkdir()
    base = nginx.serve(served)  # nginx's default location: PUT and DELETE, no COPY
    (repo.root / "fleet" / "store").mkdir(parents=True)
    repo.write(".gitignore", "fleet/\n")

    def write(switch: str) -> None:
        web: dict[str, Any] = {"type": "http", "url": base + "{bundle}.json"}
        if switch == "copy":
            web |= {"stage_url": base + "{bundle}.json.staged/{digest_hex}.json", "switch": "copy"}
        targets = [
            {
                "name": "store",
                "group": "eu",
                "source": {"type": "file", "path": "fleet/store/{bundle}.json"},
            },
            {"name": "web", "group": "eu", "source": web},
        ]
        repo.write("targets/production.yaml", inventory(targets))

    write("put")
    first = reconciler("--repo", repo.root, "converge", "--env", "production", "--timeout", "20s")
    assert first.code == 0, first.out + first.err
    v1 = (repo.root / "fleet/store/support-agent.json").read_bytes()

    write("copy")
    repo.bundle(prompt="A newer prompt.\n")
    repo.commit("v2")
    run = reconciler("--repo", repo.root, "converge", "--env", "production", "--timeout", "3s")
    assert run.code == 2, run.out + run.err
    assert "Traceback" not in run.err
    refused = [line for line in run.err.splitlines() if "copy refused" in line]
    assert refused and all("web" in line for line in refused), run.err
    assert len(refused[0].splitlines()) == 1
    # The file part switched first, and was switched back: the group runs v1 whole.
    assert (repo.root / "fleet/store/support-agent.json").read_bytes() == v1
    report = reconciler("--repo", repo.root, "audit", "--env", "production", "--format", "json")
    assert [f for f in report.json()["findings"] if f["code"] == "torn"] == []
    assert json.loads(v1)["digest"] == report.json()["targets"][1]["bundles"][0]["observed_digest"]
