"""The config repo through git objects: revisions, commit times, files at a revision.

Everything is read straight from the object database (no checkout), so any revision can be
rendered while the working tree holds something else. Blob contents are cached by object id:
ids are content hashes, so the cache never needs invalidating.
"""

from __future__ import annotations

import datetime as dt
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import ReconcilerError, RevisionError

if TYPE_CHECKING:
    import git

SYMLINK_MODE = 0o120000


class GitRepo:
    """A thin, cached view of one git repository."""

    def __init__(self, path: Path) -> None:
        import git

        self.path = path
        try:
            self.repo = git.Repo(path, search_parent_directories=False)
        except (git.InvalidGitRepositoryError, git.NoSuchPathError):
            raise RevisionError(f"{path}: not a git repository (run 'git init' there)") from None
        self._blobs: dict[str, bytes] = {}
        self._commits: dict[str, git.Commit] = {}

    def close(self) -> None:
        """Stop git's helper processes."""
        self.repo.close()

    def commit(self, rev: str) -> git.Commit:
        """The commit ``rev`` names (a sha, a branch, a tag, ``HEAD~2``...)."""
        import git
        from gitdb.exc import BadName, BadObject

        cached = self._commits.get(rev)
        if cached is not None:
            return cached
        try:
            commit = self.repo.commit(rev)
        except (BadName, BadObject, ValueError, git.GitCommandError):
            if rev == "HEAD":
                raise RevisionError(f"{self.path}: the repository has no commits yet") from None
            raise RevisionError(f"unknown revision {rev!r}") from None
        self._commits[rev] = commit
        self._commits[commit.hexsha] = commit
        return commit

    def committed_at(self, sha: str) -> dt.datetime:
        """The committer date of ``sha`` (aware, UTC)."""
        return self.commit(sha).committed_datetime.astimezone(dt.UTC)

    def tree_id(self, sha: str, folder: str) -> str | None:
        """The object id of ``folder`` at ``sha``, or None when it does not exist there."""
        try:
            return (self.commit(sha).tree / folder).hexsha
        except KeyError:
            return None

    def read(self, sha: str, path: str) -> bytes:
        """The bytes of file ``path`` at ``sha``; FileNotFoundError when absent."""
        try:
            obj = self.commit(sha).tree / path
        except KeyError:
            raise FileNotFoundError(path) from None
        if obj.type != "blob":
            raise FileNotFoundError(path)
        if obj.mode == SYMLINK_MODE:
            raise ReconcilerError(f"{path}: symbolic links are not allowed in a bundle")
        data = self._blobs.get(obj.hexsha)
        if data is None:
            data = obj.data_stream.read()
            self._blobs[obj.hexsha] = data
        return data

    def touching(self, rev: str, folder: str, *, all_refs: bool = False) -> list[str]:
        """Commits that changed ``folder``, newest first: ancestors of ``rev`` (or of all refs)."""
        args = ["--all"] if all_refs else [rev]
        out = self.repo.git.rev_list(*args, "--", folder)
        return out.split()

    def count_between(self, older: str, newer: str, folder: str) -> int:
        """``git rev-list --count older..newer -- folder``."""
        return int(self.repo.git.rev_list("--count", f"{older}..{newer}", "--", folder))

    def commit_times(self, shas: list[str]) -> dict[str, float]:
        """Committer Unix times of many commits in one git call."""
        if not shas:
            return {}
        out = self.repo.git.show("-s", "--format=%H %ct", *shas)
        times: dict[str, float] = {}
        for line in out.splitlines():
            sha, _, stamp = line.partition(" ")
            times[sha] = float(stamp)
        return times

    @cached_property
    def tags(self) -> dict[str, str]:
        """Commit sha -> tag name, for labelling revisions in human output."""
        labels: dict[str, str] = {}
        for tag in self.repo.tags:
            try:
                labels.setdefault(tag.commit.hexsha, tag.name)
            except ValueError:
                continue
        return labels

    def subject(self, sha: str) -> str:
        """The first line of a commit message."""
        return self.commit(sha).summary if isinstance(self.commit(sha).summary, str) else ""

    def is_ancestor(self, older: str, newer: str) -> bool:
        """Whether ``older`` is ``newer`` or one of its ancestors."""
        return self.repo.is_ancestor(older, newer)


class GitFiles:
    """The repo's files at one revision, read from git objects (a :class:`BundleFiles`)."""

    def __init__(self, repo: GitRepo, sha: str) -> None:
        self.repo = repo
        self.sha = sha

    def read(self, path: str) -> bytes:
        return self.repo.read(self.sha, path)


def batch_check(repo: GitRepo, specs: list[str]) -> dict[str, tuple[str, str] | None]:
    """``git cat-file --batch-check`` for many ``rev:path`` specs: spec -> (object id, type)."""
    import subprocess

    if not specs:
        return {}
    proc = subprocess.run(
        ["git", "-C", str(repo.path), "cat-file", "--batch-check"],
        input="\n".join(specs) + "\n",
        capture_output=True,
        text=True,
        check=True,
    )
    found: dict[str, tuple[str, str] | None] = {}
    for spec, line in zip(specs, proc.stdout.splitlines(), strict=True):
        parts = line.split()
        found[spec] = (parts[0], parts[1]) if len(parts) == 3 and parts[1] != "missing" else None
    return found
