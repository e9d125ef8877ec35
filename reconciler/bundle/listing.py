"""Every revision's files in a bundle folder, from one ``git ls-tree`` and one ``git log --raw``.

The folder's listing at the desired revision, then each commit's changes undone in turn, newest
first: what each file was at every revision (mode and blob id), with no tree read per commit.
Only a plain chain is undone this way (each commit's one parent is the next commit listed);
from a merge on, the revisions are left to the tree walk (:meth:`GitRepo.entry_id`).
:func:`walk` also lists the commits themselves and each one's folders (``-t``): the history
index asks git nothing else before it reads blobs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import ReconcilerError
from .gitrepo import GitRepo

#: A folder's files at one revision: path -> ``"<mode> <blob id>"``, as ``entry_id`` spells it.
Files = dict[str, str]

_ABSENT = "000000"
_TREE = "040000"


@dataclass(slots=True)
class Walk:
    """A folder's history from one ``git log --raw -t`` pass (:func:`walk`)."""

    shas: list[str]  #: every commit touching the folder, newest first (``git rev-list``'s)
    #: The files of the revisions a plain chain reaches (as :func:`listings` gives them).
    files: dict[str, Files] = field(default_factory=dict)
    #: The same revisions' folders, the folder itself included: path -> ``"040000 <tree id>"``.
    trees: dict[str, Files] = field(default_factory=dict)


def walk(repo: GitRepo, rev: str, folder: str) -> Walk | None:
    """The commits touching ``folder`` from ``rev``, with the files and folders of those a plain
    chain reaches; None when git fails or its listing of ``rev`` surprises (the caller asks
    ``git rev-list`` and the tree walk instead)."""
    try:
        listed, log = repo.folder_log(rev, folder)
    except ReconcilerError:
        return None
    inside = f"{folder}/"
    first: Files = {}
    folders: Files = {}
    for line in listed.splitlines():
        meta, _, path = line.partition("\t")
        mode, kind, oid = [*meta.split(), "", "", ""][:3]
        if path.startswith('"') or not oid:
            return None  # a quoted name: the tree walk spells it
        if path == folder or path.startswith(inside):
            (folders if kind == "tree" else first)[path] = f"{mode} {oid}"
    files: Files | None = first
    trees: Files | None = folders
    found = Walk([])
    commits = [block.strip("\n").split("\n") for block in log.split("\x01") if block.strip()]
    for n, (head, *lines) in enumerate(commits):
        sha, *parents = head.split()
        found.shas.append(sha)
        if files is None or trees is None:
            continue
        found.files[sha] = files
        found.trees[sha] = trees
        older = commits[n + 1][0].split(" ", 1)[0] if n + 1 < len(commits) else None
        if older is None or parents != [older]:
            files = trees = None
            continue
        files, trees = _undo_all(files, trees, lines, folder)
    return found


def _undo_all(
    files: Files, trees: Files, lines: list[str], folder: str
) -> tuple[Files | None, Files | None]:
    """The files and folders before a commit whose raw diff (with ``-t``) is ``lines``."""
    before, folders = dict(files), dict(trees)
    inside = f"{folder}/"
    for line in lines:
        if not line.startswith(":"):
            continue
        meta, _, path = line.partition("\t")
        parts = meta[1:].split()
        if len(parts) != 5 or path.startswith('"') or "\t" in path:
            return None, None
        if path != folder and not path.startswith(inside):
            continue  # a folder above it, on the way
        old_mode, new_mode, old_id, _, _ = parts
        if old_mode == _ABSENT:
            (folders if new_mode == _TREE else before).pop(path, None)
        else:
            (folders if old_mode == _TREE else before)[path] = f"{old_mode} {old_id}"
    return before, folders


def listings(repo: GitRepo, rev: str, folder: str, shas: list[str]) -> dict[str, Files]:
    """The files under ``folder`` at each of ``shas`` (the commits touching it, newest first,
    from ``rev``) that a plain chain reaches; an empty answer when git's output surprises."""
    try:
        files = _tree(repo._git("ls-tree", "-r", "--full-tree", rev, "--", folder))
        log = repo._git(
            "log",
            "--raw",
            "--no-abbrev",
            "--no-renames",
            "--parents",
            "--format=%x01%H %P",
            rev,
            "--",
            folder,
        )
    except ReconcilerError:
        return {}  # the tree walk answers instead
    found: dict[str, Files] = {}
    commits = [block for block in log.split("\x01") if block.strip()]
    for n, block in enumerate(commits):
        head, *lines = block.strip("\n").split("\n")
        sha, *parents = head.split()
        if files is None or n >= len(shas) or sha != shas[n]:
            break
        found[sha] = files
        older = shas[n + 1] if n + 1 < len(shas) else None
        if older is None or parents != [older]:
            break
        files = _undo(files, lines)
    return found


def _tree(out: str) -> Files | None:
    files: Files = {}
    for line in out.splitlines():
        meta, _, path = line.partition("\t")
        mode, kind, oid = [*meta.split(), "", "", ""][:3]
        if path.startswith('"') or not oid:
            return None  # a quoted name: the tree walk spells it
        if kind != "tree":
            files[path] = f"{mode} {oid}"
    return files


def _undo(files: Files, lines: list[str]) -> Files | None:
    """The files before a commit whose raw diff is ``lines``."""
    before = dict(files)
    for line in lines:
        if not line.startswith(":"):
            continue
        meta, _, path = line.partition("\t")
        parts = meta[1:].split()
        if len(parts) != 5 or path.startswith('"') or "\t" in path:
            return None
        old_mode, _, old_id, _, _ = parts
        if old_mode == _ABSENT:
            before.pop(path, None)
        else:
            before[path] = f"{old_mode} {old_id}"
    return before


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
