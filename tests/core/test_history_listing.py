"""Every revision's files from one git log --raw pass (bundle/listing.py), each revision a delta
on the newer one, answer as the tree walk does, through adds, edits, deletes, mode changes and
links, in order or not; a merge ends the pass."""

from __future__ import annotations

import os
from pathlib import Path

from reconciler.bundle.gitrepo import GitRepo
from reconciler.bundle.listing import Files, entry, walk
from tests.support.plaingit import commit_all, run_git

FOLDER = "bundles/b"


def _repo(root: Path) -> None:
    run_git(root, "init", "-q", "-b", "main")
    folder = root / FOLDER
    (folder / "prompts").mkdir(parents=True)
    (folder / "bundle.yaml").write_text("name: b\n")
    (folder / "prompts" / "a.md").write_text("a\n")
    (folder / "prompts" / "b.md").write_text("b\n")
    (root / "elsewhere.txt").write_text("x\n")
    commit_all(root, "start")
    (folder / "prompts" / "a.md").write_text("a2\n")
    commit_all(root, "edit")
    (root / "elsewhere.txt").write_text("y\n")
    commit_all(root, "not the bundle")
    (folder / "prompts" / "b.md").unlink()
    commit_all(root, "delete")
    (folder / "prompts" / "a.md").chmod(0o755)
    commit_all(root, "mode")
    os.symlink("a.md", folder / "prompts" / "link.md")
    commit_all(root, "link")
    (folder / "prompts" / "a.md").unlink()
    (folder / "prompts" / "a.md").write_text("a file where a file was\n")
    commit_all(root, "edit again")


def _paths(root: Path) -> list[str]:
    names = ["bundle.yaml", "prompts/a.md", "prompts/b.md", "prompts/link.md", "prompts"]
    return [f"{FOLDER}/{name}" for name in names] + [f"{FOLDER}/prompts/a.md/deeper"]


def listings(git: GitRepo, rev: str, folder: str) -> dict[str, Files]:
    """Each revision's files the pass gives (a copy of each, the cursor's dict moves on)."""
    found = walk(git, rev, folder)
    assert found is not None
    cursor = found.cursor()
    return {sha: dict(cursor.to(n)) for n, sha in enumerate(found.shas[: found.chain])}


def test_each_revision_lists_as_the_tree_walk_answers(tmp_path: Path) -> None:
    _repo(tmp_path)
    git = GitRepo(tmp_path)
    shas = git.touching("HEAD", FOLDER)
    found = listings(git, shas[0], FOLDER)
    assert list(found) == shas  # a plain chain: every revision, from one pass
    for sha in shas:
        for path in _paths(tmp_path):
            if path.endswith("/prompts"):
                continue  # a folder: the walk answers with its tree, which no render reads
            assert entry(found[sha], path) == git.entry_id(sha, path), (sha, path)
    walked = walk(git, shas[0], FOLDER)
    assert walked is not None
    cursor = walked.cursor()
    for n in [3, 1, 5, 0, 2]:  # out of order: the cursor starts again from the newest
        assert cursor.to(n) == found[shas[n]]
    git.close()


def test_a_merge_ends_the_pass(tmp_path: Path) -> None:
    _repo(tmp_path)
    run_git(tmp_path, "checkout", "-q", "-b", "side", "HEAD~2")
    (tmp_path / FOLDER / "prompts" / "side.md").write_text("side\n")
    commit_all(tmp_path, "side")
    run_git(tmp_path, "checkout", "-q", "main")
    (tmp_path / FOLDER / "bundle.yaml").write_text("name: b\n# main\n")
    commit_all(tmp_path, "main")
    run_git(tmp_path, "-c", "user.name=T", "-c", "user.email=t@e", "merge", "-q", "--no-ff", "side")
    git = GitRepo(tmp_path)
    shas = git.touching("HEAD", FOLDER)
    found = listings(git, shas[0], FOLDER)
    assert list(found) == shas[:1]  # the merge itself; what lies past it is the tree walk's
    assert entry(found[shas[0]], f"{FOLDER}/prompts/side.md") == git.entry_id(
        shas[0], f"{FOLDER}/prompts/side.md"
    )
    git.close()
