"""A lineage's subsets along the walk's plain chain, each revision a delta on the next newer one.

A revision differs from the next newer one only in the files its commit changed
(:mod:`.listing`). So each lineage keeps one running set of component digests: a commit that
changed a file the render reads replaces that component's part (read and digested once per
blob, :mod:`.parts`); one that changed bundle.yaml or the target's overlay changes the shape,
rendered once per distinct input set (:mod:`.inputs`); one that changed nothing the render
reads keeps the newer revision's subset. Each input set is still counted once, as its render.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping

from ..canonical import bundle_digest
from .inputs import Base, InputRenders, Inputs
from .listing import Change, Files, Walk, entry, undo
from .parts import FILES, UNKNOWN, Part, Shape, fits
from .rendered import overlay_path

#: :meth:`~.parts.Parts.part`: a component's part from its path's mode and blob id.
Read = Callable[[str, str | None, str, str], Part]


class _Assembly:
    """The running digests of one shape (one bundle.yaml and overlay): each file component's
    part, what each path it reads is at the revision, and the carried subset's digest."""

    def __init__(
        self,
        base: Base,
        shape: Shape,
        paths: tuple[str, ...],
        keep: list[str],
        known: Mapping[tuple[str, str], Part],
    ) -> None:
        self.base = base
        self.shape = shape
        self.paths = paths
        self.known = known  #: the parts digested so far, by (kind, blob id)
        #: Each path the render reads and what it is at the revision: its input set.
        self.pairs: list[tuple[str, str | None]] = [(path, None) for path in paths]
        self.slot = {path: n for n, path in enumerate(paths)}
        #: Paths whose change may change what a read path is: themselves, folders on the way.
        self.watch = {
            "/".join(parts[:end])
            for parts in (path.split("/") for path in paths)
            for end in range(1, len(parts) + 1)
        }
        self.found = {key: shape.fixed.get(key, "") for key in shape.order}
        self.sizes: dict[str, int] = {}
        self.size = shape.rest  #: the measured size of the render: the rest and every part
        self.broken: set[str] = set()  #: components whose file does not render
        self.unknown: set[str] = set()  #: components only a render can tell
        #: The carried components' lines of :func:`~reconciler.canonical.bundle_digest`, sorted.
        self.lines = [f"{key} {self.found[key]}\n".encode() for key in keep]
        line = {key: n for n, key in enumerate(keep)}
        #: A path -> the components it holds: each one's key, kind and line (None: not carried).
        self.holds: dict[str, list[tuple[str, str, int | None]]] = {}
        for key, path in shape.files:
            self.holds.setdefault(path, []).append((key, key.partition("/")[0], line.get(key)))
        self.last: str | None = None  #: the subset digest at the revision last computed

    def fill(self, files: Files, sha: str, read: Read) -> None:
        """Every path and part at this revision."""
        for path in self.paths:
            self._set(path, files, sha, read)

    def apply(
        self,
        changes: tuple[Change, ...],
        files: Files,
        sha: str,
        read: Read,
    ) -> bool:
        """Follow one commit undone; whether anything the render reads changed."""
        dirty = [path for path, _ in changes if path in self.watch]
        if not dirty:
            return False
        if any(path not in self.slot for path in dirty):  # a folder on the way: look again
            dirty = list(self.paths)
        for path in dirty:
            self._set(path, files, sha, read)
        return True

    def _set(self, path: str, files: Files, sha: str, read: Read) -> None:
        ident = files.get(path) or entry(files, path)
        self.pairs[self.slot[path]] = (path, ident)
        holds = self.holds.get(path)
        if holds is None:
            return
        blob = ident[7:] if ident is not None and ident.startswith(FILES) else None
        broken, unknown = self.broken, self.unknown
        for key, kind, line in holds:  # a thousand revisions: the known part looked up here
            part = self.known.get((kind, blob), UNKNOWN) if blob is not None else UNKNOWN
            if part is UNKNOWN:
                part = read(key, ident, path, sha)
            self.size -= self.sizes.pop(key, 0)
            if broken:
                broken.discard(key)
            if unknown:
                unknown.discard(key)
            if part is UNKNOWN:
                unknown.add(key)
            elif part is None:
                broken.add(key)
            else:
                found, size = part
                self.found[key] = found
                self.sizes[key] = size
                self.size += size
                if line is not None:
                    self.lines[line] = f"{key} {found}\n".encode()

    def key(self) -> Inputs:
        return tuple(self.pairs)

    def complete(self) -> bool:
        """Whether the parts alone give the digests (else only a render can tell)."""
        if self.broken:
            return True  # a file that does not render: neither does the revision
        return not self.unknown and fits(self.size)

    def subset(self) -> str | None:
        if self.broken:
            return None
        return "sha256:" + hashlib.sha256(b"".join(self.lines)).hexdigest()


class Steps:
    """One lineage's subsets (a target's overlay, its carried components) along the chain a
    :class:`~.listing.Walk` undid, computed in order, newest first."""

    def __init__(
        self,
        inputs: InputRenders,
        walked: Walk,
        target: str | None,
        carried: Callable[[str], bool],
    ) -> None:
        self.inputs = inputs
        self.walked = walked
        self.target = target
        self.carried = carried
        self.cursor = walked.cursor()
        self.at = -1  #: the revision last computed
        self.state: _Assembly | None = None
        self._keep: dict[tuple[str, ...], list[str]] = {}
        #: Paths whose change may change bundle.yaml's or the overlay's id: themselves and the
        #: folders on their way (a file there answers for them, :func:`~.listing.entry`).
        self._bases = {
            "/".join(parts[:end])
            for parts in (path.split("/") for path in (inputs.spec_file, self._over()) if path)
            for end in range(1, len(parts) + 1)
        }

    def prefetch(self, first: int, count: int) -> None:
        """Read in one batch the blobs revisions ``first`` to ``first + count`` will read:
        the parts their commits changed that neither memory nor the index knows (all their
        files when the shape is not known yet: a render reads them)."""
        inputs, parts = self.inputs, self.inputs.parts
        state = self.state if self.at == first - 1 else None
        start = first
        blobs: set[tuple[str, str]] = set()
        if state is None:
            files = self.cursor.to(first)
            sha = self.walked.shas[first]
            base = inputs.base(sha, self.target, files)
            shape, paths = inputs.shape(base, self.target), inputs.reads(base, self.target)
            if shape is None or paths is None:
                wanted = [ident[7:] for ident in files.values() if ident.startswith(FILES)]
                inputs.repo.preload(wanted)
                return
            keys = {path: key.partition("/")[0] for key, path in shape.files}
            for path, kind in keys.items():
                ident = files.get(path)
                if ident is not None and ident.startswith(FILES):
                    blobs.add((kind, ident[7:]))
            start += 1
        else:
            keys = {path: key.partition("/")[0] for key, path in state.shape.files}
        others: list[str] = []
        for changes in self.walked.undo[max(start - 1, 0) : first + count - 1]:
            for path, old in changes:
                if old is None or not old.startswith(FILES):
                    continue
                held = keys.get(path)
                if held is not None:
                    blobs.add((held, old[7:]))
                elif path in (inputs.spec_file, self._over()):
                    others.append(old[7:])
        inputs.repo.preload([*others, *parts.unread(blobs)])

    def _over(self) -> str | None:
        return overlay_path(self.inputs.bundle, self.target) if self.target is not None else None

    def subset(self, at: int) -> str | None:
        """The carried subset's digest at revision ``at`` (None where it does not render)."""
        inputs, target = self.inputs, self.target
        cursor = self.cursor
        if at == self.at + 1 and cursor.at == self.at and at > 0:
            changes: tuple[Change, ...] | None = cursor.step()
        else:
            cursor.to(at)
            changes = None
        self.at = at
        files, sha = cursor.files, self.walked.shas[at]
        if not self.walked.present[at]:
            self.state = None
            return None
        state, bases = self.state, self._bases
        if state is not None and changes is not None and not any(p in bases for p, _ in changes):
            base = state.base  # neither bundle.yaml nor the overlay changed
        else:
            base = inputs.base(sha, target, files)
        read = inputs.parts.part
        if state is None or changes is None or state.base != base:
            state = self.state = self._assembly(base)
            if state is None:  # a shape not seen yet: a render
                return self._of(inputs.digests(sha, target, files))
            state.fill(files, sha, read)
        elif not state.apply(changes, files, sha, read):
            return state.last  # nothing it reads changed: the newer revision's input set
        return self._settle(state, sha, files)

    def run(self, first: int, count: int) -> list[str | None]:
        """:meth:`subset` of ``count`` revisions from ``first``, in order. The common step (the
        revision after one just computed, whose commit changed files the render reads and
        neither bundle.yaml nor the overlay) is taken here with no call but the parts' (a
        drifted target walks a thousand); anything else goes through :meth:`subset`."""
        found: list[str | None] = []
        cursor, walked, bases = self.cursor, self.walked, self._bases
        undone, present, shas = walked.undo, walked.present, walked.shas
        read = self.inputs.parts.part
        for at in range(first, first + count):
            state, files = self.state, cursor.files  # the cursor's files: new when it went back
            if state is None or at - 1 != self.at or cursor.at != self.at or not present[at]:
                found.append(self.subset(at))
                continue
            changes = undone[self.at]
            watch, slot = state.watch, state.slot
            dirty: list[str] = []
            common = True
            for path, _ in changes:
                if path in watch:
                    if path in bases or path not in slot:
                        common = False  # bundle.yaml, the overlay, a folder on the way
                        break
                    dirty.append(path)
            if not common:
                found.append(self.subset(at))
                continue
            undo(files, changes)
            cursor.at = self.at = at
            if not dirty:
                found.append(state.last)
                continue
            for path in dirty:
                state._set(path, files, shas[at], read)
            found.append(self._settle(state, shas[at], files))
        return found

    def _settle(self, state: _Assembly, sha: str, files: Files) -> str | None:
        """The subset at ``sha`` once ``state`` holds its parts: from them, or a render when
        only a render can tell."""
        inputs = self.inputs
        key = state.key()
        if state.complete():
            inputs.assembled_once(key, None if state.broken else state.found)
            state.last = state.subset()
            return state.last
        hit, value = inputs.known(key)
        if not hit:
            done = inputs.render(sha, self.target, state.base, files)
            value = done.digests if done is not None else None
        state.last = self._of(value)
        return state.last

    def _assembly(self, base: Base) -> _Assembly | None:
        shape = self.inputs.shape(base, self.target)
        paths = self.inputs.reads(base, self.target)
        if shape is None or paths is None:
            return None
        keep = self._keep.get(shape.order)
        if keep is None:
            keep = self._keep[shape.order] = sorted(k for k in shape.order if self.carried(k))
        return _Assembly(base, shape, paths, keep, self.inputs.parts.known)

    def _of(self, digests: dict[str, str] | None) -> str | None:
        if digests is None:
            return None
        return bundle_digest({k: v for k, v in digests.items() if self.carried(k)})
