"""``model.variants`` (design §13): one artifact per device tier, a render per tier, each tier's
digest moved only by its own artifact, and bad variants refused in one line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.bundle.gitrepo import GitFiles, GitRepo
from reconciler.bundle.render import render
from reconciler.bundle.rendered import Rendered
from reconciler.bundle.tiers import tier_digests, tier_render, tiers
from reconciler.diff.bundle import diff_bundle
from reconciler.diff.change import Severity
from reconciler.errors import ConfigError
from tests.support.cli import reconciler
from tests.support.configrepo import ConfigRepo, inventory
from tests.support.devicefleet import variants


@pytest.fixture
def repo(tmp_path: Path) -> ConfigRepo:
    repo = ConfigRepo(tmp_path / "config")
    repo.bundle(variants=variants())
    repo.write(
        "targets/production.yaml",
        inventory([{"name": "a", "source": {"type": "file", "path": "fleet/a/{bundle}.json"}}]),
    )
    repo.commit("v1")
    return repo


def _render(repo: ConfigRepo, rev: str = "HEAD") -> Rendered:
    git = GitRepo(repo.root)
    try:
        sha = git.commit(rev).hexsha
        return render(GitFiles(git, sha), "support-agent", sha)
    finally:
        git.close()


def test_a_tier_render_keeps_only_its_own_variant(repo: ConfigRepo) -> None:
    done = _render(repo)
    assert tiers(done) == ["high", "low", "mid"]
    mid = tier_render(done, "mid")
    assert list(mid.components["model"]["variants"]) == ["mid"]
    assert mid.components["model"]["variants"]["mid"]["quant"] == "q4_k_m"
    assert mid.digests == Rendered.build(mid.name, mid.revision, mid.components).digests
    assert mid.digest == Rendered.build(mid.name, mid.revision, mid.components).digest
    # Everything but the model is the full render's.
    assert {k: v for k, v in mid.digests.items() if k != "model"} == {
        k: v for k, v in done.digests.items() if k != "model"
    }
    with pytest.raises(ConfigError, match="no device tier 'tiny'"):
        tier_render(done, "tiny")


def test_one_tiers_artifact_moves_only_that_tiers_digest(repo: ConfigRepo) -> None:
    before = tier_digests(_render(repo))
    repo.bundle(variants=variants(low="b"))
    repo.commit("low: new artifact")
    after = tier_digests(_render(repo))
    assert after["low"] != before["low"]
    assert after["mid"] == before["mid"] and after["high"] == before["high"]


def test_a_changed_artifact_sha256_is_behavioral(repo: ConfigRepo) -> None:
    old = tier_render(_render(repo), "low")
    repo.bundle(variants=variants(low="b"))
    repo.commit("low: new artifact")
    new = tier_render(_render(repo), "low")
    changes = diff_bundle(old.components, new.components)
    assert [(c.component, c.path, c.severity) for c in changes] == [
        ("model", "variants.low.sha256", Severity.BEHAVIORAL)
    ]


def test_render_tier_prints_the_tier_render(repo: ConfigRepo) -> None:
    run = reconciler("--repo", repo.root, "render", "support-agent", "--tier", "high")
    assert run.code == 0, run.err
    doc = json.loads(run.out)
    assert list(doc["components"]["model"]["variants"]) == ["high"]
    assert doc["digest"] == tier_render(_render(repo), "high").digest
    bad = reconciler("--repo", repo.root, "render", "support-agent", "--tier", "tiny")
    assert bad.code == 1 and "no device tier 'tiny'" in bad.err
    assert len(bad.err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("edit", "needle"),
    [
        (lambda v: v["mid"].pop("sha256"), "sha256"),
        (lambda v: v["mid"].update(sha256="not-hex"), "sha256"),
        (lambda v: v["mid"].update(url="ftp://x/y.gguf"), "url must start with"),
        (lambda v: v["mid"].update(min_ram_gb=0), "min_ram_gb"),
    ],
)
def test_a_bad_variant_is_one_line(repo: ConfigRepo, edit: Any, needle: str) -> None:
    bad = variants()
    edit(bad)
    repo.bundle(variants=bad)
    repo.commit("bad variant")
    run = reconciler("--repo", repo.root, "render", "support-agent")
    assert run.code == 1, run.out
    lines = [line for line in run.err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in run.err, run.err
    assert "bundles/support-agent/bundle.yaml:" in lines[0] and needle in lines[0], lines[0]
