"""The commits, whether the folder is there and its overlays from one git log --raw pass
answer as git rev-list and the tree walk do: through overlays added, edited and removed, the
folder deleted and made again, a file turned into a folder, and a merge."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from reconciler.bundle import history, listing
from reconciler.bundle.gitrepo import GitFiles, GitRepo
from reconciler.bundle.gitrepo.process import Output
from reconciler.bundle.history import BundleHistory, DigestCache
from reconciler.bundle.render import render
from reconciler.errors import ConfigError, ReconcilerError
from tests.support.plaingit import commit_all, run_git

FOLDER = "bundles/b"
TARGETS = [None, "eu", "us", "ap", "x"]


def _logs_asked(monkeypatch: pytest.MonkeyPatch) -> list[str | None]:
    """From now on, each ``git log`` pass of a folder: the commit it starts after (None: the
    whole walk)."""
    asked: list[str | None] = []
    real = GitRepo.folder_log

    def log(self: GitRepo, rev: str, folder: str, since: str | None = None) -> object:
        asked.append(since)
        return real(self, rev, folder, since)

    monkeypatch.setattr(GitRepo, "folder_log", log)
    return asked


def _write(root: Path, path: str, text: str) -> None:
    (root / FOLDER / path).parent.mkdir(parents=True, exist_ok=True)
    (root / FOLDER / path).write_text(text)


def _repo(root: Path, *, merge: bool) -> None:
    run_git(root, "init", "-q", "-b", "main")
    _write(root, "bundle.yaml", "name: b\nmodel: {provider: openai, name: m}\n")
    _write(root, "overlays/eu.yaml", "model: {name: e}\n")
    commit_all(root, "start")
    _write(root, "overlays/us.yaml", "model: {name: u}\n")
    commit_all(root, "us")
    _write(root, "overlays/eu.yaml", "model: {name: e2}\n")
    (root / "elsewhere.txt").write_text("x\n")
    commit_all(root, "edit eu")
    (root / FOLDER / "overlays" / "us.yaml").unlink()
    _write(root, "overlays/ap.yaml/inner", "a folder named like an overlay\n")
    commit_all(root, "us gone, a folder")
    shutil.rmtree(root / FOLDER)
    commit_all(root, "folder gone")
    _write(root, "bundle.yaml", "name: b\nmodel: {provider: openai, name: n}\n")
    _write(root, "overlays", "a file where the overlays were\n")
    commit_all(root, "back")
    (root / FOLDER / "overlays").unlink()
    _write(root, "overlays/x.yaml", "model: {name: x}\n")
    commit_all(root, "overlays again")
    if merge:
        run_git(root, "checkout", "-q", "-b", "side")
        _write(root, "overlays/us.yaml", "model: {name: side}\n")
        commit_all(root, "side")
        run_git(root, "checkout", "-q", "main")
        _write(root, "bundle.yaml", "name: b\nmodel: {provider: openai, name: o}\n")
        commit_all(root, "main")
        run_git(root, "-c", "user.name=T", "-c", "user.email=t@e", "merge", "-q", "--no-ff", "side")


def _keys(root: Path) -> tuple[list[str], list[list[str | None]], list[bool]]:
    git = GitRepo(root)
    found = BundleHistory(git, "b", git.commit("HEAD").hexsha, DigestCache(None))
    keys = [[found.key(sha, target) for target in TARGETS] for sha in found.shas]
    overlaid = [found.has_overlay(target) for target in TARGETS if target is not None]
    git.close()
    return found.shas, keys, overlaid


@pytest.mark.parametrize("merge", [False, True])
def test_the_log_pass_answers_as_rev_list_and_the_tree_walk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, merge: bool
) -> None:
    _repo(tmp_path, merge=merge)
    shas, keys, overlaid = _keys(tmp_path)
    assert shas == run_git(tmp_path, "rev-list", "HEAD", "--", FOLDER).split()
    git = GitRepo(tmp_path)
    one_pass = history.walk(git, shas[0], FOLDER)
    git.close()
    assert one_pass is not None and one_pass.shas == shas  # git took the pass: no fallback
    assert one_pass.chain == (1 if merge else len(shas))  # a merge ends the undoing
    assert any(key[0] is None for key in keys)  # the folder gone: no key at that revision
    assert any(key[1] != key[0] for key in keys if key[0] is not None)  # an overlay keys apart
    calls: list[int] = []
    monkeypatch.setattr(history, "walk", lambda *args, **_: calls.append(1))  # no log pass
    assert _keys(tmp_path) == (shas, keys, overlaid)
    assert calls == [1]


def test_a_past_revision_renders_from_its_listing_without_walking_a_tree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_git(tmp_path, "init", "-q", "-b", "main")
    for n in range(3):
        _write(
            tmp_path,
            "bundle.yaml",
            f"name: b\nmodel: {{provider: o, name: m{n}}}\n"
            "prompts:\n  system: {file: prompts/system.md}\n",
        )
        _write(tmp_path, "prompts/system.md", f"prompt {n}\n")
        commit_all(tmp_path, f"c{n}")
    git = GitRepo(tmp_path)
    found = BundleHistory(git, "b", git.commit("HEAD").hexsha, DigestCache(None))

    def no_walk(*args: object) -> None:
        raise AssertionError("a tree walked")

    monkeypatch.setattr(git, "_entries", no_walk)
    done = found.inputs.render(found.shas[2], None)
    assert done is not None and done.components["prompt/system"]["text"] == "prompt 0\n"
    git.close()


def test_a_walk_kept_in_the_index_asks_git_no_log_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The walk is a function of the desired commit: a warm audit reads it from the index; a
    damaged record is only a log pass more."""
    root = tmp_path / "repo"
    root.mkdir()
    _repo(root, merge=False)
    cache = tmp_path / "history.json"
    git = GitRepo(root)
    head = git.commit("HEAD").hexsha
    first = DigestCache(cache)
    cold = BundleHistory(git, "b", head, first)
    keys = [[cold.key(sha, target) for target in TARGETS] for sha in cold.shas]
    first.save()
    logs = _logs_asked(monkeypatch)
    warm = BundleHistory(git, "b", head, DigestCache(cache))
    assert logs == []  # no git log: the index had it
    assert warm.shas == cold.shas
    assert [[warm.key(sha, target) for target in TARGETS] for sha in warm.shas] == keys
    blobs = cache.with_name("history-blobs.json")
    saved = json.loads(blobs.read_text())
    for name in saved["entries"]:
        if name.startswith("walk:"):
            saved["entries"][name] = {"walk": '{"shas": ["cut short'}
    blobs.write_text(json.dumps(saved))
    again = BundleHistory(git, "b", head, DigestCache(cache))
    assert logs == [None]  # walked again, whole
    assert [[again.key(sha, target) for target in TARGETS] for sha in again.shas] == keys
    git.close()


def test_one_merge_later_git_tells_only_the_commits_since(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An audit of a newer desired revision asks git only for the commits since the walk kept
    in the index, and knows what a whole walk knows; after a merge, the whole walk."""
    root = tmp_path / "repo"
    root.mkdir()
    _repo(root, merge=True)
    git = GitRepo(root)
    chain = run_git(root, "rev-list", "--first-parent", "HEAD").split()
    older = chain[3]  # before the folder went, came back and merged
    cache = tmp_path / "history.json"
    first = DigestCache(cache)
    BundleHistory(git, "b", older, first)
    first.save()
    asked = _logs_asked(monkeypatch)
    for desired in chain[1:3]:  # plain commits after ``older``
        later = BundleHistory(git, "b", desired, DigestCache(cache))
        whole = BundleHistory(git, "b", desired, DigestCache(None))
        assert asked[-2:] == [older, None]  # the commits since; then the whole walk, to compare
        assert later.shas == whole.shas
        assert later.walked is not None and whole.walked is not None
        assert later.walked == whole.walked
        assert [[later.key(s, t) for t in TARGETS] for s in later.shas] == [
            [whole.key(s, t) for t in TARGETS] for s in whole.shas
        ]
    asked.clear()
    merged = BundleHistory(git, "b", chain[0], DigestCache(cache))  # the merge
    assert asked == [older, None]  # tried, then walked whole: a merge is no plain chain
    assert merged.shas == run_git(root, "rev-list", chain[0], "--", FOLDER).split()
    git.close()


def test_a_name_git_would_quote_is_read_as_its_tree_spells_it(tmp_path: Path) -> None:
    """git quotes a name it cannot print plainly, except with ``-z``: the pass reads the log's
    names raw, as tree objects spell them, and undoes every commit; each revision keys as the
    tree walk keys it, and the revisions with the name render with it."""
    run_git(tmp_path, "init", "-q", "-b", "main")
    _write(tmp_path, "bundle.yaml", "name: b\nmodel: {provider: openai, name: m}\n")
    _write(tmp_path, "overlays/eu.yaml", "model: {name: e}\n")
    commit_all(tmp_path, "start")
    _write(tmp_path, "prompts/ünïcode\tname.md", "quoted by git\n")
    commit_all(tmp_path, "a quoted name")
    _write(tmp_path, "overlays/us.yaml", "model: {name: u}\n")
    commit_all(tmp_path, "after it")
    (tmp_path / FOLDER / "prompts" / "ünïcode\tname.md").unlink()
    commit_all(tmp_path, "gone again")
    git = GitRepo(tmp_path)
    walked = history.walk(git, git.commit("HEAD").hexsha, FOLDER)
    assert walked is not None and walked.chain == len(walked.shas) == 4  # no commit surprised
    cursor = walked.cursor()
    held = [f"{FOLDER}/prompts/ünïcode\tname.md" in cursor.to(n) for n in range(4)]
    assert held == [False, True, True, False]
    git.close()
    shas, keys, overlaid = _keys(tmp_path)
    assert shas == run_git(tmp_path, "rev-list", "HEAD", "--", FOLDER).split()
    assert overlaid == [True, True, False, False]
    plain = GitRepo(tmp_path)
    for sha, row in zip(shas, keys, strict=True):
        tree = run_git(tmp_path, "rev-parse", f"{sha}:{FOLDER}")
        assert row[0] == tree and plain.tree_id(sha, FOLDER) == tree
    plain.close()


@pytest.mark.parametrize("target", [None, "eu", "us", "x"])
def test_each_revision_stepped_from_the_newer_one_is_what_a_render_gives(
    tmp_path: Path, target: str | None
) -> None:
    """Through overlays added, edited and removed, the folder deleted and made again, and a
    file where the overlays folder was: each revision a delta on the newer one gives the
    subset a render of that revision gives."""
    _repo(tmp_path, merge=False)
    git = GitRepo(tmp_path)
    found = BundleHistory(git, "b", git.commit("HEAD").hexsha, DigestCache(None))
    assert found.walked is not None and found.walked.chain == len(found.shas)
    got = list(found.lineage(target, lambda _key: True).subsets)
    want: list[str | None] = []
    for sha in found.shas:
        try:
            want.append(render(GitFiles(git, sha), "b", sha, target).digest)
        except (ConfigError, ReconcilerError, FileNotFoundError):
            want.append(None)
    git.close()
    assert got == want
    assert any(value is None for value in want) and len(set(want)) > 2


def test_a_walk_kept_at_a_commit_outside_the_folder_goes_on_from_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The walk kept was a desired commit that did not touch the folder (an inventory change):
    git lists it as the next commit's parent as it is; the walk one commit later has every
    revision's change, as a whole walk does, and steps through all of them."""
    root = tmp_path / "repo"
    root.mkdir()
    _repo(root, merge=False)
    (root / "inventory.txt").write_text("outside the folder\n")
    commit_all(root, "inventory only")
    kept = run_git(root, "rev-parse", "HEAD")
    _write(root, "prompts/system.md", "later\n")
    commit_all(root, "later")
    git = GitRepo(root)
    cache = tmp_path / "history.json"
    first = DigestCache(cache)
    BundleHistory(git, "b", kept, first)
    first.save()
    asked = _logs_asked(monkeypatch)
    head = run_git(root, "rev-parse", "HEAD")
    later = BundleHistory(git, "b", head, DigestCache(cache))
    assert asked == [kept]  # only the commits since: no whole walk after it
    whole = BundleHistory(git, "b", head, DigestCache(None))
    assert later.walked is not None and later.walked == whole.walked
    assert len(later.walked.undo) == later.walked.chain - 1
    subsets = list(later.lineage(None, lambda _key: True).subsets)
    assert len(subsets) == len(later.shas)
    git.close()


def test_a_walk_that_fails_before_it_reads_the_log_stops_git(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """git starts before its log is read (the desired render and the folder's listing go on
    meanwhile): when those fail, the walk gives up and the log's git is stopped and reaped."""
    _repo(tmp_path, merge=False)
    git = GitRepo(tmp_path)
    logs: list[Output] = []
    real = GitRepo.folder_log

    def folder_log(self: GitRepo, rev: str, folder: str, since: str | None = None) -> Output:
        logs.append(real(self, rev, folder, since))
        return logs[-1]

    def damaged(*_: object) -> None:
        raise ReconcilerError("a tree object is missing")

    monkeypatch.setattr(GitRepo, "folder_log", folder_log)
    monkeypatch.setattr(listing, "_files", damaged)
    assert history.walk(git, git.commit("HEAD").hexsha, FOLDER) is None
    git.close()
    assert len(logs) == 1 and logs[0].proc.returncode is not None  # stopped and waited for
    assert logs[0].proc.stdout is not None and logs[0].proc.stdout.closed
