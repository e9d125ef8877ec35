"""What a cold history works out while git writes its log (issue 18): the desired render, and
every file blob the log names read (its part digested between chunks of the log), so a lineage
walked afterwards asks git for nothing.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.bundle import render as render_module
from reconciler.bundle.gitrepo import GitRepo, process
from reconciler.bundle.history import BundleHistory, DigestCache, RenderStore
from tests.support.longhistory import BUNDLE, build
from tests.support.plaingit import run_git

COMMITS = 300  # more blobs than the 256 an earlier read-ahead stopped at


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[tuple[Path, GitRepo]]:
    root = tmp_path / "repo"
    build(root, COMMITS, ["eu"])
    git = GitRepo(root)
    yield root, git
    git.close()


def _asked_of_git(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every object read and every git process started from now on."""
    asked: list[str] = []
    get, get_many, popen = process.Objects.get, process.Objects.get_many, subprocess.Popen

    def one(self: process.Objects, oid: str) -> tuple[str, bytes] | None:
        asked.append(oid)
        return get(self, oid)

    def many(self: process.Objects, oids: list[str]) -> dict[str, bytes]:
        asked.extend(oids)
        return get_many(self, oids)

    def started(command: list[str], *args: object, **kwargs: object) -> object:
        asked.append(" ".join(command))
        return popen(command, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(process.Objects, "get", one)
    monkeypatch.setattr(process.Objects, "get_many", many)
    monkeypatch.setattr(subprocess, "Popen", started)
    return asked


def test_every_blob_the_log_names_is_read_while_git_writes_it(repo: tuple[Path, GitRepo]) -> None:
    root, git = repo
    BundleHistory(git, "support-agent", git.commit("HEAD").hexsha, DigestCache(None))
    raw = run_git(root, "log", "--raw", "--no-abbrev", "--format=", "HEAD", "--", BUNDLE)
    blobs = {line.split()[3] for line in raw.splitlines() if line.startswith(":")}
    assert len(blobs) > 256
    assert [blob for blob in blobs if git.loaded(blob) is None] == []


@pytest.mark.parametrize("target", [None, "eu"])
def test_a_lineage_walked_after_a_cold_walk_asks_git_for_nothing(
    repo: tuple[Path, GitRepo], monkeypatch: pytest.MonkeyPatch, target: str | None
) -> None:
    _, git = repo
    history = BundleHistory(git, "support-agent", git.commit("HEAD").hexsha, DigestCache(None))
    asked = _asked_of_git(monkeypatch)
    subsets = list(history.lineage(target, lambda _key: True).subsets)
    assert len(subsets) == COMMITS and None not in subsets
    assert asked == []  # every blob read and every part digested during the log


def _renders(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The revision of every render made from now on."""
    made: list[str] = []
    real = render_module.render

    def counted(*args: object, **kwargs: object) -> object:
        made.append(str(args[2]))
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(render_module, "render", counted)
    return made


def test_the_desired_render_is_made_while_git_writes_the_log_and_once(
    repo: tuple[Path, GitRepo], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, git = repo
    made = _renders(monkeypatch)
    desired = git.commit("HEAD").hexsha
    history = BundleHistory(git, "support-agent", desired, DigestCache(None))
    assert made == [desired]  # rendered during the walk
    done = history.desired_render(None)
    assert made == [desired] and done.revision == desired  # not rendered again
    assert history.inputs.renders == 1  # one input set: the desired revision's


def test_a_commit_outside_the_folder_reads_the_desired_render_back_and_renders_nothing(
    repo: tuple[Path, GitRepo], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An inventory-only commit keeps the bundle folder's tree: the next audit's walk asks git
    only for the commits since, and the desired render comes back from disk (no parse, no
    validation), as before the render was moved into the walk."""
    root, git = repo
    cache, kept = tmp_path / "history.json", RenderStore(tmp_path / "renders")
    first = BundleHistory(git, "support-agent", git.commit("HEAD").hexsha, DigestCache(cache), kept)
    first.desired_render(None)
    first.cache.save()
    (root / "targets").mkdir()
    (root / "targets" / "production.yaml").write_text("environment: production\n")
    run_git(root, "add", "-A")
    run_git(root, "commit", "-q", "-m", "inventory only")
    made = _renders(monkeypatch)
    later = GitRepo(root)
    desired = later.commit("HEAD").hexsha
    history = BundleHistory(later, "support-agent", desired, DigestCache(cache), kept)
    assert history.desired_render(None).revision == desired
    later.close()
    assert made == []
