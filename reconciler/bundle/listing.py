"""Every revision of a bundle folder, as deltas, from one ``git log --raw -z`` and the desired
revision's trees.

The folder's listing at the desired revision (from its trees, read while git starts), then for
each commit, newest first, only what it changed: each path's mode and blob id before it. What
each file was at any revision is the listing with the commits before it undone
(:class:`Cursor`), with no tree read per commit and no copy of the folder per revision. Only a
plain chain is undone this way (each commit's one parent is the next commit listed); from a
merge on, the revisions are left to the tree walk (:meth:`GitRepo.entry_id`). The pass also
lists the commits themselves, and from the files alone whether each revision has the folder
and which overlays: the history index asks git nothing else before it reads blobs (a folder's
tree id only where a render is keyed by it).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

from ..errors import ReconcilerError
from .gitrepo import GitRepo
from .gitrepo.process import Feed

#: A folder's files at one revision: path -> ``"<mode> <blob id>"``, as ``entry_id`` spells it.
Files = dict[str, str]
#: One path a commit changed, and what it was before the commit (None: absent).
Change = tuple[str, str | None]

_ABSENT = "000000"


@dataclass(slots=True)
class Walk:
    """A folder's history from one ``git log --raw`` pass (:func:`walk`): the revisions a
    plain chain reaches, as deltas on the next newer one."""

    shas: list[str]  #: every commit touching the folder, newest first (``git rev-list``'s)
    first: Files = field(default_factory=dict)  #: the files of ``shas[0]``
    #: ``undo[i]``: the file changes of commit ``shas[i]`` undone give the files of ``shas[i+1]``.
    undo: list[tuple[Change, ...]] = field(default_factory=list)
    #: Per revision the chain reaches, whether the folder is a folder there (holds a file).
    present: list[bool] = field(default_factory=list)
    #: Per revision the chain reaches, its overlays' key in :attr:`names` (None: no overlay).
    overlays: list[str | None] = field(default_factory=list)
    #: The overlays' key (their target names, sorted, a line each) -> those names.
    names: dict[str, frozenset[str]] = field(default_factory=dict)

    @property
    def chain(self) -> int:
        """How many revisions, newest first, the pass gives the files of."""
        return len(self.present)

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
        undo(self.files, changes)
        self.at += 1
        return changes

    def to(self, at: int) -> Files:
        """The files of revision ``at`` (from the newest again when it lies behind)."""
        if at < self.at:
            self.at, self.files = 0, dict(self.walked.first)
        while self.at < at:
            self.step()
        return self.files


#: One line of a raw diff inside the folder: old mode, new mode, old id, new id, path.
Line = tuple[str, str, str, str, str]
#: New blob ids asked of git at once while the log is read.
ASK_EVERY = 64
#: One commit of the pass: its id, its parents, its raw diff and its file changes undone (both
#: None when a line surprises).
Commit = tuple[str, list[str], list[Line] | None, tuple[Change, ...] | None]
#: Blobs read ahead while git still lists commits, the newest first, up to this many bytes
#: (past them, each batch of a lineage reads its own): a few thousand revisions of prompts, not
#: a history of large files, which a fleet in sync never reads and the object cache of a
#: long-lived process would keep.
READ_AHEAD = 8 << 20
_BLOBS = ("100644", "100755")


class Ahead(Protocol):
    """Work a cold walk does while git writes its log (:class:`~.meanwhile.Meanwhile`)."""

    def start(self) -> None:
        """Once git has started, before the log is read (the object reader is free)."""

    def lines(self, lines: list[Line]) -> None:
        """Each commit's changes inside the folder, newest commit first."""

    def __call__(self) -> bool:
        """One small piece of work; False when none is ready (the rest waits for the next
        chunk of the log)."""


def walk(
    repo: GitRepo,
    rev: str,
    folder: str,
    since: tuple[str, Walk] | None = None,
    ahead: Ahead | None = None,
) -> Walk | None:
    """The commits touching ``folder`` from ``rev``, with the files of those a plain chain
    reaches; None when git fails (the caller asks ``git rev-list`` and the tree walk instead).

    The folder at ``rev`` is listed from its trees, and each commit undone as git writes the
    log; every blob the log names is asked of the long-lived ``git cat-file`` (up to
    :data:`READ_AHEAD` bytes), read by another thread while git works: a lineage's batches find
    their blobs read.

    ``since``: an earlier revision and its walk (an earlier desired revision's, from the
    index): when it is an ancestor of ``rev``, only the commits after it are asked of git.
    ``ahead``: what to work out meanwhile, between chunks of the log.
    """
    try:
        if since is not None:
            return _extended(repo, rev, folder, *since, ahead)
        with contextlib.closing(repo.folder_log(rev, folder)) as chunks:
            if ahead is not None:
                ahead.start()
            reading = _Pass(folder, _files(repo, rev, folder))  # the object reader is free yet
            with repo.feeding() as feed:
                _commits(chunks, folder, feed, ahead, reading.add)
    except ReconcilerError:
        return None
    return reading.done()


def _files(repo: GitRepo, rev: str, folder: str) -> Files:
    """The files of ``folder`` at ``rev``, as ``git ls-tree -r`` lists them, from its trees."""
    files: Files = {}
    tree = repo.tree_id(rev, folder)
    todo = [(folder, tree)] if tree is not None else []
    while todo:
        path, tree = todo.pop()
        for name, (kind, mode, oid) in repo.entries(tree).items():
            if kind == "tree":
                todo.append((f"{path}/{name}", oid))
            else:
                files[f"{path}/{name}"] = f"{mode:o} {oid}"
    return files


def _extended(
    repo: GitRepo, rev: str, folder: str, base: str, since: Walk, ahead: Ahead | None
) -> Walk | None:
    """``since``, the walk of ``base``, with the commits from it to ``rev`` before it; None
    unless both are one plain chain and ``rev`` descends from ``base``."""
    older = since.shas[0]
    if since.chain != len(since.shas) or not repo.is_ancestor(base, rev):
        return None  # merges: git's simplified history is not the sum of two
    commits: list[Commit] = []
    with contextlib.closing(repo.folder_log(rev, folder, since=base)) as chunks:
        if ahead is not None:
            ahead.start()
        with repo.feeding() as feed:
            _commits(chunks, folder, feed, ahead, commits.append)
    if not commits:
        return since  # nothing touched the folder since
    sha, parents, lines, undo = commits[-1]
    if parents == [base]:  # a boundary parent git leaves as it is: ``base``'s files are older's
        commits[-1] = (sha, [older], lines, undo)
    files = dict(since.first)
    for _, _, lines, _ in reversed(commits):  # forward, oldest first: the folder at ``rev``
        for _, new_mode, _, new_id, path in lines or ():
            if new_mode == _ABSENT:
                files.pop(path, None)
            else:
                files[path] = f"{new_mode} {new_id}"
    newer = _Pass(folder, files).read(commits, older)
    if len(newer.undo) != len(commits):  # a merge, or a line that surprised: the whole walk
        return None
    return Walk(
        newer.shas + since.shas,
        newer.first,
        newer.undo + since.undo,
        newer.present + since.present,
        newer.overlays + since.overlays,
        since.names | newer.names,
    )


def _commits(
    chunks: Iterator[bytes],
    folder: str,
    feed: Feed,
    ahead: Ahead | None,
    found: Callable[[Commit], None],
) -> None:
    """The commits of ``git log --raw -z`` output as it comes, each given to ``found`` and its
    new blobs asked of ``feed``: what can be worked out per commit is, while git writes the next
    ones. With ``-z`` every field ends in a NUL and no name is quoted: a path is its bytes, as a
    tree spells it."""
    inside = f"{folder}/"
    asked: set[str] = set()
    wanted: list[str] = []
    pending = b""
    commit: tuple[str, list[str]] | None = None
    parsed: list[Line] = []
    undo: list[Change] = []
    fields: list[str] | None = None  #: a raw line's fields, whose path is the next field
    surprised = False  #: the commit has a line that surprised
    for chunk in chunks:
        tokens = (pending + chunk).split(b"\0")
        pending = tokens.pop()
        for token in tokens:  # a thousand commits of a line or two each: kept lean
            if fields is not None:
                path = token.decode("utf-8", "surrogateescape")
                if path == folder or path.startswith(inside):
                    old_mode, new_mode, old_id, new_id, _ = fields
                    parsed.append((old_mode, new_mode, old_id, new_id, path))
                    undo.append((path, None if old_mode == _ABSENT else f"{old_mode} {old_id}"))
                    if new_mode in _BLOBS and new_id not in asked and feed.received < READ_AHEAD:
                        asked.add(new_id)
                        wanted.append(new_id)
                fields = None
                continue
            token = token.removeprefix(b"\n")
            if token.startswith(b":"):  # ":<old mode> <new mode> <old id> <new id> <status>"
                fields = token[1:].decode("ascii", "replace").split(" ")
                if len(fields) != 5:
                    surprised, fields = True, ["", "", "", "", ""]
            elif token.startswith(b"\x01"):
                if commit is not None:
                    _found(found, ahead, commit, None if surprised else (parsed, undo))
                sha, *parents = token[1:].decode("ascii", "replace").split()
                commit, parsed, undo, surprised = (sha, parents), [], [], False
            elif token:
                surprised = True
        if len(wanted) >= ASK_EVERY:
            feed.ask(wanted)  # a write to git per many ids, not per chunk
            wanted = []
        while ahead is not None and ahead():
            pass
    feed.ask(wanted)
    if commit is not None:
        surprised = surprised or fields is not None or bool(pending.strip(b"\n"))
        _found(found, ahead, commit, None if surprised else (parsed, undo))


def _found(
    found: Callable[[Commit], None],
    ahead: Ahead | None,
    commit: tuple[str, list[str]],
    lines: tuple[list[Line], list[Change]] | None,
) -> None:
    """Hand on one commit of the log (its lines None when one surprised)."""
    sha, parents = commit
    if lines is None:
        found((sha, parents, None, None))
        return
    found((sha, parents, lines[0], tuple(lines[1])))
    if ahead is not None:
        ahead.lines(lines[0])


class _Pass:
    """One reading of the commits: the running files, undone commit by commit (the only copy
    of the folder there is)."""

    def __init__(self, folder: str, files: Files) -> None:
        self.folder = folder
        self.over = f"{folder}/overlays/"
        self.files = files
        self.found = Walk([], dict(files))
        self.key: str | None = None  #: the overlays' key at the running revision
        self.stale = True  #: a commit undone touched the overlays: their key is to find again
        self._last: Commit | None = None  #: the newest commit not undone yet
        self._chained = True  #: a plain chain so far

    def read(self, commits: list[Commit], then: str | None = None) -> Walk:
        """The walk of ``commits`` (newest first), whose last one's parent is ``then`` when
        an older walk goes on from there."""
        for commit in commits:
            self.add(commit)
        return self.done(then)

    def add(self, commit: Commit) -> None:
        """The next commit of the log, older than those before (undone once the next is
        known: the chain is plain while each commit's one parent is the next)."""
        if self._last is not None:
            self._step(self._last, commit[0])
        self._last = commit

    def done(self, then: str | None = None) -> Walk:
        """The walk, the last commit's parent being ``then`` (None: the log's end)."""
        if self._last is not None:
            self._step(self._last, then)
            self._last = None
        return self.found

    def _step(self, commit: Commit, older: str | None) -> None:
        sha, parents, _, undo = commit
        self.found.shas.append(sha)
        if not self._chained:
            return
        self._revision()
        if undo is None or older is None or parents != [older]:
            self._chained = False
            return
        self._undo(undo)
        self.found.undo.append(undo)

    def _revision(self) -> None:
        """Record whether the folder is there at the running revision (git keeps no empty
        folder: it is when a file is in it) and which overlays it has."""
        found, files = self.found, self.files
        found.present.append(len(files) > (self.folder in files))
        if self.stale:
            self.stale = False
            start = len(self.over)
            names = {path[start:].partition("/")[0] for path in files if path.startswith(self.over)}
            yaml = sorted(name.removesuffix(".yaml") for name in names if name.endswith(".yaml"))
            self.key = "\n".join(yaml) if yaml else None
            if self.key is not None and self.key not in found.names:
                found.names[self.key] = frozenset(yaml)
        found.overlays.append(self.key)

    def _undo(self, changes: tuple[Change, ...]) -> None:
        """Undo one commit's file changes (:func:`undo`, noting a touched overlay)."""
        files, over = self.files, self.over
        for path, old in changes:
            if old is None:
                files.pop(path, None)
            else:
                files[path] = old
            if path.startswith(over):
                self.stale = True


def undo(files: Files, changes: tuple[Change, ...]) -> None:
    """Put each changed file of ``files`` back as it was before the commit (``None``: absent)."""
    for path, old in changes:
        if old is None:
            files.pop(path, None)
        else:
            files[path] = old


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


def saved(walked: Walk) -> dict[str, str]:
    """A walk as the history index stores it (:func:`loaded` reads it back)."""
    import orjson

    fields = {
        "shas": walked.shas,
        "first": walked.first,
        "undo": walked.undo,
        "present": walked.present,
        "overlays": walked.overlays,
        "names": {key: sorted(names) for key, names in walked.names.items()},
    }
    return {"walk": orjson.dumps(fields).decode()}


def loaded(saved: dict[str, str] | None) -> Walk | None:
    """A walk :func:`saved` stored; None when it is damaged (the caller asks git again)."""
    import orjson

    try:
        fields = orjson.loads(saved["walk"]) if saved is not None else None
        if not isinstance(fields, dict):
            return None
        found = Walk(
            [str(sha) for sha in fields["shas"]],
            {str(path): str(ident) for path, ident in fields["first"].items()},
            [tuple((str(p), None if o is None else str(o)) for p, o in c) for c in fields["undo"]],
            [present is True for present in fields["present"]],
            [None if key is None else str(key) for key in fields["overlays"]],
            {str(key): frozenset(map(str, names)) for key, names in fields["names"].items()},
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    chain = found.chain
    whole = 0 < chain <= len(found.shas) and len(found.overlays) == chain
    if not whole or len(found.undo) != chain - 1:
        return None
    if any(over is not None and over not in found.names for over in found.overlays):
        return None
    return found
