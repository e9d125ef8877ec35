"""The config repo through git objects: revisions, commit times, files at a revision.

Everything is read straight from the object database (no checkout), so any revision can be
rendered while the working tree holds something else. Objects come from one long-lived
``git cat-file --batch`` per repository (77 us a read, performance.md) and are cached by object
id: ids are content hashes, so the cache never needs invalidating. Names that move (``HEAD``,
branches, tags) are resolved by ``git rev-parse`` each time (the first by the object reader,
which has read no ref yet); history questions are one ``git rev-list`` each. Only git itself
is run: no GitPython (~70 ms to import).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import weakref
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path

from ...errors import ConfigError, ReconcilerError, RevisionError
from ...revisions import SHORT
from .objects import SYMLINK_MODE, Commit, parse_commit, tree_entries
from .process import (
    SHA,
    Feed,
    GitMissing,
    Objects,
    Output,
    batch_check_specs,
    cat_batch,
    git,
    stream,
)

__all__ = [
    "SYMLINK_MODE",
    "Commit",
    "GitFiles",
    "GitMissing",
    "GitRepo",
    "batch_check",
    "git",
    "repo_at",
    "tree_entries",
]


#: The folder log: ``git rev-list``'s commits whatever log.* says, each with its raw diff.
_FOLDER_LOG: tuple[str, ...] = ("log", "--raw", "-z", "--no-abbrev", "--no-renames", "--no-follow")
_FOLDER_LOG += ("--no-show-signature", "--parents", "--format=%x01%H %P")


class GitRepo:
    """A thin, cached view of one git repository."""

    def __init__(self, path: Path) -> None:
        self.path = path
        if not _is_repository(path):
            raise RevisionError(f"{path}: not a git repository (run 'git init' there)")
        self._reader = Objects(path)
        self._finalizer = weakref.finalize(self, self._reader.close)
        self._blobs: dict[str, bytes] = {}
        self._trees: dict[str, dict[str, tuple[str, int, str]]] = {}
        self._anchors: dict[tuple[str, str], str] = {}
        self._commits: dict[str, Commit] = {}
        self._chains: dict[str, dict[str, int]] = {}
        self._arrivals: dict[tuple[str, str], str] = {}

    def close(self) -> None:
        """Stop git's helper process."""
        self._reader.close()

    def commit(self, rev: str) -> Commit:
        """The commit ``rev`` names (a sha, a branch, a tag, ``HEAD~2``...)."""
        cached = self._commits.get(rev)  # only full shas are remembered: HEAD and branches move
        if cached is not None:
            return cached
        if SHA.fullmatch(rev):
            sha, found = rev, self._reader.get(rev)
        else:
            sha, found = self._named(rev)
        if found is None or found[0] != "commit":
            raise RevisionError(f"unknown revision {rev!r}")
        commit = parse_commit(sha, found[1])
        self._commits[sha] = commit
        return commit

    def _named(self, rev: str) -> tuple[str, tuple[str, bytes] | None]:
        """The commit a name that may move names, and its object: from the object reader when
        it has resolved no name yet, else ``git rev-parse``; RevisionError when none."""
        if not rev or rev.startswith("-") or any(c in rev for c in "\0\n\r"):
            raise RevisionError(f"unknown revision {rev!r}")
        found = self._reader.named(rev)
        if found is not None:
            return found[0], ("commit", found[1])
        proc = git(self.path, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
        sha = proc.stdout.decode("ascii", "replace").strip()
        if proc.returncode == 0 and SHA.fullmatch(sha):
            return sha, self._reader.get(sha)
        if rev == "HEAD":
            raise RevisionError(f"{self.path}: the repository has no commits yet")
        raise RevisionError(f"unknown revision {rev!r}")

    def committed_at(self, sha: str) -> dt.datetime:
        """The committer date of ``sha`` (aware, UTC)."""
        return self.commit(sha).committed_datetime.astimezone(dt.UTC)

    def tree_id(self, sha: str, folder: str) -> str | None:
        """The object id of ``folder`` at ``sha``, or None when it does not exist there."""
        tree = self.commit(sha).tree
        walked: list[str] = []
        for name in [part for part in folder.split("/") if part]:
            entry = self._entries(tree, "/".join(walked) or ".", sha).get(name)
            if entry is None or entry[0] != "tree":
                return None
            walked.append(name)
            tree = entry[2]
        return tree

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
        if rest:
            self.anchor(sha, "/".join(folders), tree)  # its next file starts here
        entry = self._entries(tree, "/".join(walked) or ".", sha).get(name)
        if entry is None or entry[0] != "blob":
            raise FileNotFoundError(path)
        if entry[1] == SYMLINK_MODE:
            raise ConfigError("symbolic links are not allowed in a bundle", file=path)
        return self.blob(entry[2], path, sha)

    def blob(self, oid: str, path: str, sha: str) -> bytes:
        """The bytes of blob ``oid`` (``path`` at ``sha``, to name it when it is missing)."""
        data = self._blobs.get(oid)
        if data is None:
            data = self._blobs[oid] = self._object(oid, path, sha)
        return data

    def loaded(self, oid: str) -> bytes | None:
        """Blob ``oid`` when it is read already (by a feed, a batch), else None."""
        return self._blobs.get(oid)

    def entry_id(self, sha: str, path: str) -> str | None:
        """What file ``path`` is at ``sha``: its mode and object id (None when absent).

        Equal answers mean equal bytes: the render cache keys on them, without reading a blob.
        A folder on the way that is not a folder answers as itself (reading it is refused).
        """
        *folders, name = path.split("/")
        tree, rest = self._start(sha, folders)
        for part in rest:
            entries = self._trees.get(tree)
            if entries is None:
                entries = self._entries(tree, path, sha)
            entry = entries.get(part)
            if entry is None:
                return None
            if entry[0] != "tree":
                return f"{entry[1]:o} {entry[2]}"
            tree = entry[2]
        if rest:
            self.anchor(sha, "/".join(folders), tree)  # its next file starts here
        entries = self._trees.get(tree)
        if entries is None:
            entries = self._entries(tree, path, sha)
        entry = entries.get(name)
        return f"{entry[1]:o} {entry[2]}" if entry is not None else None

    def _object(self, oid: str, path: str, sha: str) -> bytes:
        """The contents of object ``oid``; a missing object names the path and the revision."""
        found = self._reader.get(oid)
        if found is None:
            raise ReconcilerError(
                f"{path}: git object {oid[:SHORT]} is missing at revision {sha[:SHORT]} "
                "(a damaged or partial clone? 'git fsck' says more)"
            )
        return found[1]

    def _start(self, sha: str, folders: list[str]) -> tuple[str, list[str]]:
        """Where a path walk can begin: the deepest anchored folder, else the root tree."""
        for depth in range(len(folders), 0, -1):
            tree = self._anchors.get((sha, "/".join(folders[:depth])))
            if tree is not None:
                return tree, folders[depth:]
        return self.commit(sha).tree, folders

    def anchor(self, sha: str, folder: str, tree: str) -> None:
        """Remember that ``folder`` at ``sha`` is ``tree`` (saves walking from the root)."""
        self._anchors[(sha, folder)] = tree

    def prefetch(self, trees: list[str]) -> None:
        """Load these trees, their subtrees and all their blobs in a few batched git calls.

        One ``git cat-file --batch`` per level instead of one round trip per object: what makes
        indexing a long history cheap.
        """
        pending = sorted({t for t in trees if t not in self._trees})
        while pending:
            subtrees: set[str] = set()
            blobs: set[str] = set()
            for tree, data in cat_batch(self.path, pending).items():
                entries = tree_entries(data)
                for kind, _, oid in entries.values():
                    if kind == "tree" and oid not in self._trees:
                        subtrees.add(oid)
                    elif kind == "blob" and oid not in self._blobs:
                        blobs.add(oid)
                self._trees[tree] = entries
            self._blobs.update(cat_batch(self.path, sorted(blobs)))
            pending = sorted(subtrees)

    def preload(self, blobs: list[str]) -> None:
        """Load these blobs (those not loaded yet) from the long-lived ``git cat-file --batch``,
        asked many at a time: no git process started per batch."""
        wanted = sorted({blob for blob in blobs if blob not in self._blobs})
        self._blobs.update(self._reader.get_many(wanted))

    def _entries(self, tree: str, path: str, sha: str) -> dict[str, tuple[str, int, str]]:
        """A tree's entries, name -> (type, mode, object id), parsed once per tree id.

        ``path`` and ``sha`` (the folder and the revision) only name a missing tree object.
        """
        entries = self._trees.get(tree)
        if entries is None:
            entries = self._trees[tree] = tree_entries(self._object(tree, path, sha))
        return entries

    def entries(self, tree: str) -> dict[str, tuple[str, int, str]]:
        """Tree object ``tree``'s listing, like ``git ls-tree``: name -> (kind, mode, id)."""
        return self._entries(tree, tree[:SHORT], tree)

    def touching(self, rev: str, folder: str, *, all_refs: bool = False) -> list[str]:
        """Commits that changed ``folder``, newest first: ancestors of ``rev`` (or of all refs)."""
        args = ["--all"] if all_refs else [rev]
        return self._git("rev-list", *args, "--", folder).split()

    def folder_log(self, rev: str, folder: str, since: str | None = None) -> Output:
        """Every commit touching ``folder`` from ``rev`` (and not from ``since``), newest
        first, with its raw diff (``git log --raw -z``: its files), as git writes it
        (ReconcilerError at the end when git fails)."""
        limit = [f"^{since}"] if since is not None else []
        return stream(self.path, *_FOLDER_LOG, rev, *limit, "--", folder)

    def is_ancestor(self, older: str, newer: str) -> bool:
        """Whether commit ``older`` is ``newer`` or one of its ancestors (False when git cannot
        tell: an unknown commit)."""
        return git(self.path, "merge-base", "--is-ancestor", older, newer).returncode == 0

    @contextlib.contextmanager
    def feeding(self) -> Iterator[Feed]:
        """Objects asked as their ids turn up (:meth:`Feed.ask`), read meanwhile into the
        object cache by a thread; every answer is in once the block ends."""
        with contextlib.closing(self._reader.feed(self._blobs)) as feed:
            yield feed

    def first_parents(self, rev: str) -> dict[str, int]:
        """The first-parent chain of ``rev``: commit -> position (0 is ``rev``, growing older):
        the commits of the branch itself (a merged branch's own commits are not on it).
        """
        cached = self._chains.get(rev)
        if cached is None:
            shas = self._git("rev-list", "--first-parent", rev).split()
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
            below = self._git("rev-list", "--ancestry-path", f"{sha}..{rev}").split()
            on_chain = [c for c in below if c in chain]
            found = max(on_chain, key=chain.__getitem__) if on_chain else rev
            self._arrivals[key] = found
        return found

    def count_between(self, older: str, newer: str, folder: str) -> int:
        """``git rev-list --count older..newer -- folder``."""
        return int(self._git("rev-list", "--count", f"{older}..{newer}", "--", folder))

    def commit_times(self, shas: list[str]) -> dict[str, float]:
        """Committer Unix times of many commits in one git call."""
        if not shas:
            return {}
        out = self._git("show", "-s", "--format=%H %ct", *shas)
        times: dict[str, float] = {}
        for line in out.splitlines():
            sha, _, stamp = line.partition(" ")
            times[sha] = float(stamp)
        return times

    def read_tags(self) -> dict[str, str]:
        """Commit sha -> tag name, read now (tags come and go)."""
        out = self._git(
            "for-each-ref",
            "--format=%(objecttype) %(objectname) %(*objecttype) %(*objectname) %(refname)",
            "refs/tags",
        )
        labels: dict[str, str] = {}
        for line in out.splitlines():
            kind, sha, peeled_kind, peeled, ref = (line.split(" ", 4) + [""] * 5)[:5]
            if kind == "tag" and peeled_kind == "commit":
                sha, kind = peeled, "commit"
            if kind == "commit":  # a tag of a tree or a blob labels no revision
                labels.setdefault(sha, ref.removeprefix("refs/tags/"))
        return labels

    def subject(self, sha: str) -> str:
        """The first line of a commit message."""
        return self.commit(sha).summary

    def _git(self, *args: str) -> str:
        """The output of one git command that must succeed (its own error otherwise)."""
        proc = git(self.path, *args)
        if proc.returncode != 0:
            said = proc.stderr.decode("utf-8", "replace").strip().splitlines()
            raise ReconcilerError(f"git {args[0]} failed: {said[-1] if said else proc.returncode}")
        return proc.stdout.decode("utf-8", "replace")


class GitFiles:
    """The repo's files at one revision, read from git objects (a :class:`BundleFiles`)."""

    def __init__(self, repo: GitRepo, sha: str) -> None:
        self.repo = repo
        self.sha = sha

    def read(self, path: str) -> bytes:
        return self.repo.read(self.sha, path)


def batch_check(repo: GitRepo, specs: list[str]) -> dict[str, tuple[str, str] | None]:
    """``git cat-file --batch-check`` for many ``rev:path`` specs: spec -> (object id, type)."""
    if not specs:
        return {}
    found: dict[str, tuple[str, str] | None] = {}
    for spec, line in zip(specs, batch_check_specs(repo.path, specs), strict=True):
        parts = line.split()
        found[spec] = (parts[0], parts[1]) if len(parts) == 3 and parts[1] != "missing" else None
    return found


def _is_repository(path: Path) -> bool:
    """Whether ``path`` is the top of a work tree (``.git`` inside) or a bare repository."""
    try:
        if (path / ".git").exists():
            return True
        return (
            (path / "HEAD").is_file() and (path / "objects").is_dir() and (path / "refs").is_dir()
        )
    except OSError:
        return False


#: Open repositories by (folder, identity of its .git), newest last; the oldest are closed
#: beyond a few. Every part of the reconciler opens a repository here (:func:`repo_at`), so one
#: ``git cat-file`` process and one object cache serve a whole run.
_REPOS: OrderedDict[tuple[Path, int], GitRepo] = OrderedDict()
_KEEP = 4


def repo_at(repo_root: Path) -> GitRepo:
    """The shared :class:`GitRepo` of ``repo_root`` (opened on first use, kept for the process).

    A repository made again in place (a new ``.git``) is a new one: its objects are not the old
    ones'.
    """
    repo_root = repo_root.resolve()
    try:
        identity = (repo_root / ".git").stat().st_ino
    except OSError:
        identity = 0
    key = (repo_root, identity)
    repo = _REPOS.get(key)
    if repo is None:
        repo = _REPOS[key] = GitRepo(repo_root)
    _REPOS.move_to_end(key)
    while len(_REPOS) > _KEEP:
        _REPOS.popitem(last=False)[1].close()
    return repo
