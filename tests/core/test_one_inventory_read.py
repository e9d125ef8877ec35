"""An audit reads its inventory once: the read that decides ``verify:`` is the audit's too."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from reconciler.rollout.recorded import judged_audit
from tests.support.agentrepo import file_target
from tests.support.configrepo import ConfigRepo, inventory
from tests.support.counting import inventory_reads


def test_an_audit_reads_its_inventory_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = ConfigRepo(tmp_path / "config")
    repo.write("targets/production.yaml", inventory([file_target("eu")]))
    repo.bundle()
    repo.commit("v1")
    reads = inventory_reads(monkeypatch, anywhere=True)
    audit = judged_audit(repo.root, "production", now=dt.datetime.now(dt.UTC))
    assert [t.name for t in audit.targets] == ["eu"]
    assert reads == ["production"]
