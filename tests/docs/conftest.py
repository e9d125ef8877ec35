"""A temp config repo for the docs tests: a git copy of this repository's own example
(``bundles/``, ``targets/``), where samples are written and the real CLI runs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.docs.markdown import ROOT
from tests.support.configrepo import ConfigRepo

#: The example's secrets (unset, each is a warning; set, validate says nothing of them).
SECRETS = ("AGENT_CONFIG_TOKEN", "MLFLOW_TOKEN", "UNLEASH_ADMIN_TOKEN", "ALERT_WEBHOOK_URL")


@pytest.fixture
def config_repo(tmp_path: Path) -> ConfigRepo:
    repo = ConfigRepo(tmp_path / "config")
    for folder in ("bundles", "targets"):
        shutil.copytree(ROOT / folder, repo.root / folder)
    repo.write(".reconciler-signers", "")
    repo.commit("the example config")
    return repo
