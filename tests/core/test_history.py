"""Rendering at any revision from git objects, and the on-disk history index."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from reconciler.bundle.gitrepo import GitFiles, GitRepo
from reconciler.bundle.history import BundleHistory, DigestCache
from reconciler.bundle.render import render
from tests.support.configrepo import T0, ConfigRepo


@pytest.fixture
def repo(tmp_path: Path) -> ConfigRepo:
    repo = ConfigRepo(tmp_path / "repo")
    repo.bundle()
    repo.commit("v1", T0)
    repo.bundle(prompt="You help customers. Be brief.\n")
    repo.commit("v2: prompt", T0 + dt.timedelta(hours=1))
    repo.write("targets/README", "inventory only\n")
    repo.commit("inventory only", T0 + dt.timedelta(hours=2))
    repo.bundle(prompt="You help customers. Be brief.\n", field="exec_summary")
    repo.commit("v3: rename", T0 + dt.timedelta(hours=3))
    return repo


def test_render_any_revision_without_checkout(repo: ConfigRepo) -> None:
    repo.bundle(prompt="uncommitted edit\n")  # the working tree must not leak in
    git = GitRepo(repo.root)
    head = git.commit("HEAD").hexsha
    first = git.commit("HEAD~3").hexsha
    now = render(GitFiles(git, head), "support-agent", head)
    old = render(GitFiles(git, first), "support-agent", first)
    assert now.components["prompt/system"]["text"] == "You help customers. Be brief.\n"
    assert old.components["prompt/system"]["text"] == "You help customers.\n"
    assert "exec_summary" in json.dumps(now.components["tool/write_report"])
    assert render(GitFiles(git, head), "support-agent", head).to_bytes() == now.to_bytes()
    assert now.to_json()["revision"] == head


def test_history_lists_only_commits_touching_the_bundle(repo: ConfigRepo) -> None:
    git = GitRepo(repo.root)
    head = git.commit("HEAD").hexsha
    history = BundleHistory(git, "support-agent", head, DigestCache(None))
    subjects = [git.subject(sha) for sha in history.shas]
    assert subjects == ["v3: rename", "v2: prompt", "v1"]
    assert history.behind(history.shas[2]) == 2


def test_prompt_only_view_sees_no_change_in_v3(repo: ConfigRepo) -> None:
    git = GitRepo(repo.root)
    history = BundleHistory(git, "support-agent", git.commit("HEAD").hexsha, DigestCache(None))
    pop = history.lineage(None, lambda key: key.startswith("prompt/"))
    region = history.lineage(None, lambda key: True)
    assert pop.subsets[0] == pop.subsets[1] != pop.subsets[2]
    assert len(set(region.subsets)) == 3


def test_cache_on_disk_is_reused_and_keyed_by_content(repo: ConfigRepo, tmp_path: Path) -> None:
    git = GitRepo(repo.root)
    head = git.commit("HEAD").hexsha
    path = tmp_path / "cache.json"
    first = DigestCache(path)
    list(BundleHistory(git, "support-agent", head, first).lineage(None, lambda _: True).subsets)
    first.save()
    entries = json.loads(path.read_text())["entries"]
    assert len(entries) == 1  # the desired render's digests; past ones are deltas on it
    assert all(len(key) == 40 for key in entries)  # git tree ids: content hashes
    index = json.loads(path.with_name("cache-blobs.json").read_text())["entries"]
    kinds = {key.split(":")[0] for key in index}
    assert kinds <= {"part", "shape", "walk", "in"}  # blob ids, blob ids, the desired commit
    walks = [key for key in index if key.startswith("walk:")]
    assert walks == [f"walk:bundles/support-agent:{head}"]
    assert len(json.loads(index[walks[0]]["walk"])["shas"]) == 3  # the three revisions
    second = DigestCache(path)
    history = BundleHistory(git, "support-agent", head, second)
    list(history.lineage(None, lambda _: True).subsets)
    assert second.index is not None
    assert not second.dirty and not second.index.dirty  # all of it came from the cache
    assert history._renders == {}
    assert history.inputs.assembled == history.inputs.renders  # from known parts: no render


def test_damaged_cache_is_only_slower(repo: ConfigRepo, tmp_path: Path) -> None:
    path = tmp_path / "cache.json"
    path.write_text("{not json")
    git = GitRepo(repo.root)
    history = BundleHistory(git, "support-agent", git.commit("HEAD").hexsha, DigestCache(path))
    assert len(history.lineage(None, lambda _: True).subsets) == 3


def test_a_lineage_is_computed_only_as_far_as_it_is_read() -> None:
    from reconciler.bundle.lineage import Subsets

    asked: list[list[str]] = []

    def compute(shas: list[str]) -> list[str | None]:
        asked.append(shas)
        return [f"subset-{sha}" for sha in shas]

    shas = [f"c{n}" for n in range(100)]
    subsets = Subsets(compute, shas)
    assert asked == []  # a target in sync reads none of it
    assert subsets.index("subset-c3") == 3
    assert asked == [shas[:8]]  # one behind: the first batch only
    assert subsets[20] == "subset-c20" and [len(batch) for batch in asked] == [8, 8, 16]
    with pytest.raises(ValueError):
        subsets.index("drifted")
    assert sum(len(batch) for batch in asked) == 100  # drifted: the whole history, once
    assert subsets[-1] == "subset-c99" and subsets[1:3] == ["subset-c1", "subset-c2"]
    assert subsets.index("subset-c50", 40, 60) == 50
    with pytest.raises(ValueError):
        subsets.index("subset-c50", 51)
    with pytest.raises(ValueError):
        subsets.index("subset-c50", 0, 50)
    fresh = Subsets(compute, shas)
    asked.clear()
    assert fresh.index("subset-c30") == 30  # found in the third batch: none after it computed
    assert [len(batch) for batch in asked] == [8, 8, 16]


def test_a_tag_pushed_after_its_commit_is_seen_by_the_next_audit(repo: ConfigRepo) -> None:
    """A reused snapshot (the daemon's, same desired revision) reads tags once per audit: a
    faster first audit must not pin the revision's label to what it found then."""
    from reconciler.bundle.snapshot import snapshot

    first = snapshot(repo.root, None, None)
    assert first.desired not in first.tags
    repo.git("tag", "v9")
    again = snapshot(repo.root, None, None)
    assert again is first  # everything else is reused
    assert again.tags[again.desired] == "v9"
