"""A name that moves (``HEAD``, a branch) is resolved by the long-lived ``git cat-file`` only while
it has read no ref (a new process, before anything else): no ``git rev-parse`` started for a
cold audit's ``HEAD``; every later name is ``rev-parse``'s, which sees a ref rewritten since."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.bundle import gitrepo
from reconciler.bundle.gitrepo import GitRepo
from reconciler.errors import RevisionError
from tests.support.plaingit import commit_all, run_git


def _counting(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, ...]]:
    ran: list[tuple[str, ...]] = []
    real = gitrepo.git

    def counted(path: Path, *args: str, **kwargs: object) -> object:
        ran.append(args)
        return real(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(gitrepo, "git", counted)
    return ran


def test_the_first_name_is_the_object_readers_the_next_rev_parses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_git(tmp_path, "init", "-q", "-b", "main")
    first = commit_all(tmp_path, "one")
    ran = _counting(monkeypatch)
    repo = GitRepo(tmp_path)
    assert repo.commit("HEAD").hexsha == first
    assert ran == []  # no rev-parse: the new cat-file answered
    second = commit_all(tmp_path, "two")
    run_git(tmp_path, "pack-refs", "--all")  # the branch now in packed-refs, rewritten
    assert repo.commit("main").hexsha == second
    assert repo.commit("HEAD~1").hexsha == first
    assert [args[0] for args in ran] == ["rev-parse", "rev-parse"]
    repo.close()


def test_a_reader_that_has_read_objects_leaves_names_to_rev_parse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_git(tmp_path, "init", "-q", "-b", "main")
    first = commit_all(tmp_path, "one")
    ran = _counting(monkeypatch)
    repo = GitRepo(tmp_path)
    assert repo.commit(first).hexsha == first  # a read by id: replace refs may have been read
    assert repo.commit("HEAD").hexsha == first
    assert [args[0] for args in ran] == ["rev-parse"]
    repo.close()


def test_unknown_names_and_an_empty_repository_say_so(tmp_path: Path) -> None:
    run_git(tmp_path, "init", "-q", "-b", "main")
    repo = GitRepo(tmp_path)
    with pytest.raises(RevisionError, match="no commits yet"):
        repo.commit("HEAD")
    repo.close()
    commit_all(tmp_path, "one")
    tree = run_git(tmp_path, "rev-parse", "HEAD^{tree}")
    for name in ("nope", tree, "HEAD:missing"):
        repo = GitRepo(tmp_path)  # each asked of a new reader first
        with pytest.raises(RevisionError, match="unknown revision"):
            repo.commit(name)
        repo.close()
