"""A target serving the desired values written differently (1024.0 for 1024) is in sync, and
says so: numbers compare as numbers (design §6), even though its content digest differs."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.cli import reconciler
from tests.support.configrepo import ConfigRepo, inventory


def test_a_number_written_as_a_float_is_in_sync_with_a_finding(tmp_path: Path) -> None:
    repo = ConfigRepo(tmp_path / "config")
    repo.bundle()
    targets = [
        {"name": "exact", "source": {"type": "file", "path": "fleet/exact.json"}},
        {"name": "respelled", "source": {"type": "file", "path": "fleet/respelled.json"}},
        {"name": "changed", "source": {"type": "file", "path": "fleet/changed.json"}},
    ]
    repo.write("targets/production.yaml", inventory(targets))
    repo.write(".gitignore", "fleet/\n")
    repo.commit("v1")
    rendered = reconciler("--repo", repo.root, "render", "support-agent").out
    repo.write("fleet/exact.json", rendered)
    doc = json.loads(rendered)
    doc["components"]["model"]["params"]["max_output_tokens"] = 1024.0
    repo.write("fleet/respelled.json", json.dumps(doc))
    doc["components"]["model"]["params"]["max_output_tokens"] = 2048.0
    repo.write("fleet/changed.json", json.dumps(doc))

    run = reconciler("--repo", repo.root, "audit", "--env", "production", "--format", "json")
    report = run.json()
    status = {t["name"]: t["status"] for t in report["targets"]}
    assert status == {"exact": "in_sync", "respelled": "in_sync", "changed": "drifted"}
    respelled = next(t for t in report["targets"] if t["name"] == "respelled")["bundles"][0]
    desired = report["desired"]["bundles"]["support-agent"]["digest"]
    assert respelled["observed_digest"] != desired  # said as it is, never normalised away
    assert respelled["observed_revision"] == report["desired"]["revision"]
    codes = {(f["code"], f["target"]) for f in report["findings"]}
    assert ("equal_but_respelled", "respelled") in codes
    assert ("equal_but_respelled", "changed") not in codes
