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

from ..errors import ConfigError, ReconcilerError, RevisionError
from ..revisions import SHORT

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
        self._trees: dict[str, dict[str, tuple[str, int, str]]] = {}
        self._anchors: dict[tuple[str, str], str] = {}
        self._commits: dict[str, git.Commit] = {}
        self._chains: dict[str, dict[str, int]] = {}
        self._arrivals: dict[tuple[str, str], str] = {}

    def close(self) -> None:
        """Stop git's helper processes."""
        self.repo.close()

    def commit(self, rev: str) -> git.Commit:
        """The commit ``rev`` names (a sha, a branch, a tag, ``HEAD~2``...)."""
        import git
        from gitdb.exc import BadName, BadObject

        cached = self._commits.get(rev)  # only full shas are remembered: HEAD and branches move
        if cached is not None:
            return cached
        try:
            commit = self.repo.commit(rev)
        except (BadName, BadObject, ValueError, git.GitCommandError):
            if rev == "HEAD":
                raise RevisionError(f"{self.path}: the repository has no commits yet") from None
            raise RevisionError(f"unknown revision {rev!r}") from None
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
        *folders, name = path.split("/")
        tree, rest = self._start(sha, folders)
        walked = folders[: len(folders) - len(rest)]  # the anchored part of the path
        for folder in rest:
            entry = self._entries(tree, "/".join(walked) or ".", sha).get(folder)
            walked.append(folder)
            if entry is not None and entry[1] == SYMLINK_MODE:
                raise ConfigError(
                    "symbolic links are not allowed in a bundle", file="/".join(walked)
                )
            if entry is None or entry[0] != "tree":
                raise FileNotFoundError(path)
            tree = entry[2]
        entry = self._entries(tree, "/".join(walked) or ".", sha).get(name)
        if entry is None or entry[0] != "blob":
            raise FileNotFoundError(path)
        if entry[1] == SYMLINK_MODE:
            raise ConfigError("symbolic links are not allowed in a bundle", file=path)
        data = self._blobs.get(entry[2])
        if data is None:
            data = self._object(entry[2], path, sha)
            self._blobs[entry[2]] = data
        return data

    def _object(self, oid: str, path: str, sha: str) -> bytes:
        """The contents of object ``oid``; a missing object names the path and the revision."""
        try:
            return self.repo.odb.stream(bytes.fromhex(oid)).read()
        except ValueError:  # gitpython: "SHA ... could not be resolved, git returned: ..."
            raise ReconcilerError(
                f"{path}: git object {oid[:SHORT]} is missing at revision {sha[:SHORT]} "
                "(a damaged or partial clone? 'git fsck' says more)"
            ) from None

    def _start(self, sha: str, folders: list[str]) -> tuple[str, list[str]]:
        """Where a path walk can begin: the deepest anchored folder, else the root tree."""
        for depth in range(len(folders), 0, -1):
            tree = self._anchors.get((sha, "/".join(folders[:depth])))
            if tree is not None:
                return tree, folders[depth:]
        return self.commit(sha).tree.hexsha, folders

    def anchor(self, sha: str, folder: str, tree: str) -> None:
        """Remember that ``folder`` at ``sha`` is ``tree`` (saves walking from the root)."""
        self._anchors[(sha, folder)] = tree

    def prefetch(self, trees: list[str]) -> None:
        """Load these trees, their subtrees and all their blobs in a few batched git calls.

        One ``git cat-file --batch`` per level instead of one round trip per object: what makes
        indexing a long history cheap.
        """
        from git.objects.fun import tree_entries_from_data

        pending = sorted({t for t in trees if t not in self._trees})
        while pending:
            subtrees: set[str] = set()
            blobs: set[str] = set()
            for tree, data in _cat_batch(self.path, pending).items():
                entries = {}
                for binsha, mode, name in tree_entries_from_data(data):
                    kind = {0o04: "tree", 0o16: "commit"}.get(mode >> 12, "blob")
                    entries[name] = (kind, mode, binsha.hex())
                    if kind == "tree" and binsha.hex() not in self._trees:
                        subtrees.add(binsha.hex())
                    elif kind == "blob" and binsha.hex() not in self._blobs:
                        blobs.add(binsha.hex())
                self._trees[tree] = entries
            self._blobs.update(_cat_batch(self.path, sorted(blobs)))
            pending = sorted(subtrees)

    def _entries(self, tree: str, path: str, sha: str) -> dict[str, tuple[str, int, str]]:
        """A tree's entries, name -> (type, mode, object id), parsed once per tree id.

        ``path`` and ``sha`` (the folder and the revision) only name a missing tree object.
        """
        entries = self._trees.get(tree)
        if entries is None:
            from git.objects.fun import tree_entries_from_data

            data = self._object(tree, path, sha)
            entries = {}
            for binsha, mode, name in tree_entries_from_data(data):
                kind = {0o04: "tree", 0o16: "commit"}.get(mode >> 12, "blob")
                entries[name] = (kind, mode, binsha.hex())
            self._trees[tree] = entries
        return entries

    def touching(self, rev: str, folder: str, *, all_refs: bool = False) -> list[str]:
        """Commits that changed ``folder``, newest first: ancestors of ``rev`` (or of all refs)."""
        args = ["--all"] if all_refs else [rev]
        out = self.repo.git.rev_list(*args, "--", folder)
        return out.split()

    def first_parents(self, rev: str) -> dict[str, int]:
        """The first-parent chain of ``rev``: commit -> position (0 is ``rev``, growing older).

        These are the commits of the branch itself: a merged branch's own commits are not on it.
        """
        cached = self._chains.get(rev)
        if cached is None:
            shas = self.repo.git.rev_list("--first-parent", rev).split()
            cached = self._chains[rev] = {sha: index for index, sha in enumerate(shas)}
        return cached

    def arrival(self, sha: str, rev: str) -> str:
        """The first commit of ``rev``'s first-parent chain that contains ``sha``.

        ``sha`` itself when it was committed on the branch; for a merged branch, the merge
        commit, whose time is when the change reached the branch (design §6).
        """
        chain = self.first_parents(rev)
        if sha in chain:
            return sha
        key = (sha, rev)
        found = self._arrivals.get(key)
        if found is None:
            below = self.repo.git.rev_list("--ancestry-path", f"{sha}..{rev}").split()
            on_chain = [c for c in below if c in chain]
            found = max(on_chain, key=chain.__getitem__) if on_chain else rev
            self._arrivals[key] = found
        return found

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
        return self.read_tags()

    def read_tags(self) -> dict[str, str]:
        """Commit sha -> tag name, read now (tags come and go)."""
        labels: dict[str, str] = {}
        for tag in self.repo.tags:
            try:
                labels.setdefault(tag.commit.hexsha, tag.name)
            except ValueError:
                continue
        return labels

    def subject(self, sha: str) -> str:
        """The first line of a commit message."""
        summary = self.commit(sha).summary
        return summary if isinstance(summary, str) else summary.decode("utf-8", "replace")


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


def _cat_batch(path: Path, ids: list[str]) -> dict[str, bytes]:
    """The contents of many objects from one ``git cat-file --batch`` process."""
    import subprocess

    if not ids:
        return {}
    out = subprocess.run(
        ["git", "-C", str(path), "cat-file", "--batch"],
        input="\n".join(ids).encode() + b"\n",
        capture_output=True,
        check=True,
    ).stdout
    found: dict[str, bytes] = {}
    pos = 0
    while pos < len(out):
        end = out.index(b"\n", pos)
        header = out[pos:end].split()
        pos = end + 1
        if len(header) != 3:  # "<id> missing"
            continue
        size = int(header[2])
        found[header[0].decode()] = out[pos : pos + size]
        pos += size + 1
    return found
