"""Every revision of a bundle folder, as deltas, from one ``git ls-tree`` and one ``git log --raw
-t``.

The folder's listing at the desired revision, then for each commit, newest first, only what it
changed: each path's mode and blob id before it. What each file was at any revision is the
listing with the commits before it undone (:class:`Cursor`), with no tree read per commit and
no copy of the folder per revision. Only a plain chain is undone this way (each commit's one
parent is the next commit listed); from a merge on, the revisions are left to the tree walk
(:meth:`GitRepo.entry_id`). The pass also lists the commits themselves and each one's folder and
overlay folder ids (``-t``): the history index asks git nothing else before it reads blobs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import ReconcilerError
from .gitrepo import GitRepo

#: A folder's files at one revision: path -> ``"<mode> <blob id>"``, as ``entry_id`` spells it.
Files = dict[str, str]
#: One path a commit changed, and what it was before the commit (None: absent).
Change = tuple[str, str | None]

_ABSENT = "000000"
_TREE = "040000"


@dataclass(slots=True)
class Walk:
    """A folder's history from one ``git log --raw -t`` pass (:func:`walk`): the revisions a
    plain chain reaches, as deltas on the next newer one."""

    shas: list[str]  #: every commit touching the folder, newest first (``git rev-list``'s)
    first: Files = field(default_factory=dict)  #: the files of ``shas[0]``
    #: ``undo[i]``: the file changes of commit ``shas[i]`` undone give the files of ``shas[i+1]``.
    undo: list[tuple[Change, ...]] = field(default_factory=list)
    #: Per revision the chain reaches, the folder's tree id (None where it is not a folder).
    folders: list[str | None] = field(default_factory=list)
    #: Per revision the chain reaches, the ``overlays`` folder's tree id (None: no such folder).
    overlays: list[str | None] = field(default_factory=list)
    #: An ``overlays`` tree id -> the targets it holds an overlay for.
    names: dict[str, frozenset[str]] = field(default_factory=dict)

    @property
    def chain(self) -> int:
        """How many revisions, newest first, the pass gives the files of."""
        return len(self.folders)

    def cursor(self) -> Cursor:
        return Cursor(self)


class Cursor:
    """The files of one revision after another of a :class:`Walk`, newest first: one dict,
    changed in place (read it, never keep or change it)."""

    def __init__(self, walked: Walk) -> None:
        self.walked = walked
        self.at = 0
        self.files: Files = dict(walked.first)

    def step(self) -> tuple[Change, ...]:
        """Move to the next older revision; the changes undone."""
        changes = self.walked.undo[self.at]
        files = self.files
        for path, old in changes:
            if old is None:
                files.pop(path, None)
            else:
                files[path] = old
        self.at += 1
        return changes

    def to(self, at: int) -> Files:
        """The files of revision ``at`` (from the newest again when it lies behind)."""
        if at < self.at:
            self.at, self.files = 0, dict(self.walked.first)
        while self.at < at:
            self.step()
        return self.files


def walk(repo: GitRepo, rev: str, folder: str) -> Walk | None:
    """The commits touching ``folder`` from ``rev``, with the files and folders of those a plain
    chain reaches; None when git fails or its listing of ``rev`` surprises (the caller asks
    ``git rev-list`` and the tree walk instead)."""
    try:
        listed, log = repo.folder_log(rev, folder)
    except ReconcilerError:
        return None
    inside = f"{folder}/"
    files: Files = {}
    folders: Files = {}
    for line in listed.splitlines():
        meta, _, path = line.partition("\t")
        mode, kind, oid = [*meta.split(), "", "", ""][:3]
        if path.startswith('"') or not oid:
            return None  # a quoted name: the tree walk spells it
        if path != folder and not path.startswith(inside):
            continue
        if kind == "tree":
            folders[path] = oid
        else:
            files[path] = f"{mode} {oid}"
    return _Pass(folder, files, folders).read(log)


class _Pass:
    """One reading of ``git log --raw -t``: the running files and folders, undone commit by
    commit (the only copy of the folder there is)."""

    def __init__(self, folder: str, files: Files, folders: dict[str, str]) -> None:
        self.folder = folder
        self.over = f"{folder}/overlays"
        self.inside = f"{folder}/"
        self.files = files
        self.folders = folders
        self.found = Walk([], dict(files))

    def read(self, log: str) -> Walk:
        found = self.found
        commits = [block for block in log.split("\x01") if block.strip()]
        chained = True
        for n, block in enumerate(commits):
            head, *lines = block.strip("\n").split("\n")
            sha, *parents = head.split()
            found.shas.append(sha)
            if not chained:
                continue
            self._revision()
            older = commits[n + 1].split(" ", 1)[0].strip() if n + 1 < len(commits) else None
            changes = self._undo(lines) if older is not None and parents == [older] else None
            if changes is None:
                chained = False
                continue
            found.undo.append(changes)
        return found

    def _revision(self) -> None:
        """Record the folder and overlay folder ids of the revision the running state is at."""
        found = self.found
        tree = self.folders.get(self.folder)
        over = self.folders.get(self.over) if tree is not None else None
        found.folders.append(tree)
        found.overlays.append(over)
        if over is not None and over not in found.names:
            start = f"{self.over}/"
            names = [
                path[len(start) :]
                for path in (*self.files, *self.folders)
                if path.startswith(start) and "/" not in path[len(start) :]
            ]
            found.names[over] = frozenset(
                name.removesuffix(".yaml") for name in names if name.endswith(".yaml")
            )

    def _undo(self, lines: list[str]) -> tuple[Change, ...] | None:
        """Undo one commit whose raw diff (with ``-t``) is ``lines``; its file changes (None when
        a line surprises)."""
        changes: list[Change] = []
        files, folders, folder, inside = self.files, self.folders, self.folder, self.inside
        for line in lines:
            if not line.startswith(":"):
                continue
            meta, _, path = line.partition("\t")
            parts = meta[1:].split()
            if len(parts) != 5 or path.startswith('"') or "\t" in path:
                return None
            if path != folder and not path.startswith(inside):
                continue  # a folder above it, on the way
            old_mode, new_mode, old_id, _, _ = parts
            if old_mode == _ABSENT:
                if new_mode == _TREE:
                    folders.pop(path, None)
                else:
                    files.pop(path, None)
                    changes.append((path, None))
            elif old_mode == _TREE:
                folders[path] = old_id
            else:
                files[path] = old = f"{old_mode} {old_id}"
                changes.append((path, old))
        return tuple(changes)


def entry(files: Files, path: str) -> str | None:
    """:meth:`GitRepo.entry_id` of ``path`` (inside the folder) from a listing: a file on the
    way answers as itself, as the tree walk does."""
    found = files.get(path)
    if found is not None:
        return found
    parts = path.split("/")
    for end in range(len(parts) - 1, 0, -1):
        found = files.get("/".join(parts[:end]))
        if found is not None:
            return found
    return None
