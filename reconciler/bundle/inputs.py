"""Past revisions rendered once per distinct set of input blobs.

A render reads bundle.yaml, the target's overlay and the files bundle.yaml names, and nothing
else; which files it names is fixed by the first two. So the render at a revision is known from
the blob ids of what a render with the same bundle.yaml and overlay read before: consecutive
revisions that did not touch a target's inputs share its render, whatever else changed.
"""

from __future__ import annotations

import dataclasses

from ..errors import ConfigError, ReconcilerError
from .gitrepo import GitFiles, GitRepo
from .listing import Cursor, Files, Walk, entry
from .parts import FILES, Memory, Parts, Shape, Store, input_key, shape_key, shape_of
from .rendered import Rendered, bundle_dir, overlay_path

#: What a render read: (path, its mode and blob id at that revision, None when absent).
Inputs = tuple[tuple[str, str | None], ...]
#: The ids of bundle.yaml and the target's overlay at a revision: what decides a render's shape.
Base = tuple[str | None, str | None]


#: Modes of a regular file in a git tree, as :meth:`GitRepo.entry_id` spells them.
_FILES = ("100644 ", "100755 ")


class _Recording:
    """A :class:`~.render.BundleFiles` that remembers every path it was asked for, reading the
    blobs whose ids are already known (from an earlier render's inputs, or the revision's
    listing of the bundle folder) straight from them, with no tree walked."""

    def __init__(self, files: GitFiles, known: Inputs = (), listed: Files | None = None) -> None:
        self.files = files
        self.known = dict(known)
        self.listed = listed or {}
        self.paths: list[str] = []

    def read(self, path: str) -> bytes:
        self.paths.append(path)
        ident = self.known.get(path) or self.listed.get(path)
        if ident is not None and ident.startswith(_FILES):
            return self.files.repo.blob(ident.split(" ", 1)[1], path, self.files.sha)
        return self.files.read(path)  # absent, a link, a folder: as the walk says


class InputRenders:
    """One bundle's renders at past revisions, keyed by their inputs' blob ids.

    ``renders`` counts the input sets computed, by a render or assembled from the parts of an
    earlier one (:mod:`.parts`); a test holds it to the distinct input sets.
    """

    def __init__(
        self,
        repo: GitRepo,
        bundle: str,
        store: Store | None = None,
        walked: Walk | None = None,
    ) -> None:
        self.repo = repo
        #: Every revision's files (:mod:`.listing`), by the revision's place in the walk.
        self._at: dict[str, int] = {}
        self._cursor: Cursor | None = None
        if walked is not None:
            self.follow(walked)
        self.store = store if store is not None else Memory()
        self.bundle = bundle
        self.folder = f"{bundle_dir(bundle)}/"
        self.spec_file = f"{self.folder}bundle.yaml"
        #: (bundle.yaml id, overlay id, target) -> the paths a render with them read, in order
        #: (the target's own: a target without an overlay never shares a key with one that has).
        self._reads: dict[tuple[str | None, str | None, str | None], tuple[str, ...]] = {}
        self._done: dict[Inputs, Rendered | None] = {}
        #: (bundle.yaml, overlay) ids -> what a render with them gave apart from its files.
        self._shapes: dict[Base, Shape | None] = {}
        self._assembled: dict[Inputs, dict[str, str] | None] = {}
        self.parts = Parts(repo, self.store)
        self.renders = 0
        self.assembled = 0  #: of ``renders``, those assembled without a render

    def follow(self, walked: Walk) -> None:
        """Read each revision's files from ``walked`` from now on (renders before it read
        them through trees)."""
        self._at = {sha: n for n, sha in enumerate(walked.shas[: walked.chain])}
        self._cursor = walked.cursor()

    def is_listed(self, sha: str) -> bool:
        """Whether one pass listed the files of the bundle folder at ``sha``."""
        return sha in self._at

    def listed(self, sha: str) -> Files | None:
        """The files of the bundle folder at ``sha`` when one pass listed them (read them before
        asking for another revision's: the walk's one cursor moves)."""
        at = self._at.get(sha)
        if at is None or self._cursor is None:
            return None
        return self._cursor.to(at)

    def _id(self, sha: str, path: str, files: Files | None) -> str | None:
        if files is not None and path.startswith(self.folder):
            return entry(files, path)
        return self.repo.entry_id(sha, path)

    def _inputs(self, sha: str, paths: tuple[str, ...], files: Files | None) -> Inputs:
        if files is None:
            return tuple((path, self.repo.entry_id(sha, path)) for path in paths)
        inside = self.folder
        return tuple(
            (path, files.get(path) or entry(files, path))
            if path.startswith(inside)
            else (path, self._id(sha, path, files))
            for path in paths
        )

    def base(self, sha: str, target: str | None, files: Files | None) -> Base:
        """The ids of bundle.yaml and ``target``'s overlay at ``sha`` (whose files are ``files``
        when listed): what decides a render's shape."""
        over = overlay_path(self.bundle, target) if target is not None else None
        spec = self._id(sha, self.spec_file, files)
        return (spec, self._id(sha, over, files) if over is not None else None)

    def digests(
        self, sha: str, target: str | None, files: Files | None = None
    ) -> dict[str, str] | None:
        """The component digests at ``sha`` as ``target`` sees it (None: it does not render),
        assembled from known blobs when bundle.yaml and the overlay were rendered before;
        ``files`` are its files when the caller holds them (else the walk's)."""
        files = files if files is not None else self.listed(sha)
        base = self.base(sha, target, files)
        shape = self.shape(base, target)
        paths = self._reads.get((*base, target))
        if paths is not None and shape is not None:
            key = self._inputs(sha, paths, files)
            if key in self._assembled:
                return self._assembled[key]
            if key not in self._done:
                named = input_key(key)
                hit, value = self.store.get(named)
                if hit:  # an earlier audit's, from the index
                    self._assembled[key] = value
                    return value
                known, value = self.parts.assemble(shape, dict(key), sha)
                if known:
                    self.renders += 1
                    self.assembled += 1
                    self._assembled[key] = value
                    self.store.put(named, value)
                    return value
        done = self.render(sha, target, base, files)
        return done.digests if done is not None else None

    def known(self, key: Inputs) -> tuple[bool, dict[str, str] | None]:
        """The digests of an input set computed before in this process, if it was."""
        if key in self._assembled:
            return True, self._assembled[key]
        if key in self._done:
            done = self._done[key]
            return True, done.digests if done is not None else None
        return False, None

    def assembled_once(self, key: Inputs, digests: dict[str, str] | None) -> None:
        """Count an input set assembled from its parts by the caller (:mod:`.deltas`), unless
        it was computed before (a copy of ``digests`` is kept)."""
        assembled = self._assembled
        before = len(assembled)
        assembled.setdefault(key, digests)
        if len(assembled) == before:
            return
        if self._done and key in self._done:
            del assembled[key]  # rendered before: counted then
            return
        if digests is not None:
            assembled[key] = dict(digests)
        self.renders += 1
        self.assembled += 1

    def reads(self, base: Base, target: str | None) -> tuple[str, ...] | None:
        """The paths a render with these bundle.yaml and overlay ids reads, when one did."""
        return self._reads.get((*base, target))

    def prefetch(self, shas: list[str], target: str | None) -> None:
        """Read in one batch the file blobs these revisions will assemble from (those listed
        and whose bundle.yaml and overlay have a known shape), and every file of those listed
        whose shape is not known yet (a render will read them: one batch, not a round trip
        per file)."""
        wanted: set[tuple[str, str]] = set()
        unshaped: set[str] = set()
        for sha in shas:
            files = self.listed(sha)
            if files is None:
                continue
            shape = self.shape(self.base(sha, target, files), target)
            if shape is None:
                unshaped.update(ident[7:] for ident in files.values() if ident.startswith(FILES))
                continue
            for key, path in shape.files:
                ident = files.get(path) or entry(files, path)
                if ident is not None and ident.startswith(FILES):
                    wanted.add((key.partition("/")[0], ident[7:]))
        self.repo.preload([*unshaped, *self.parts.unread(wanted)])  # one git process

    def shape(self, base: Base, target: str | None) -> Shape | None:
        """The shape of renders with ``base``, from memory or else the index (which also gives
        the paths such a render reads)."""
        if base in self._shapes:
            return self._shapes[base]
        hit, saved = self.store.get(shape_key(base))
        shape = Shape.load(saved) if hit and saved is not None else None
        if shape is not None:
            self._shapes[base] = shape
            if (*base, target) not in self._reads:
                over = [overlay_path(self.bundle, target)] if target is not None else []
                files = dict.fromkeys(path for _, path in shape.files)
                self._reads[(*base, target)] = (self.spec_file, *over, *files)
        return shape

    def render(
        self,
        sha: str,
        target: str | None,
        base: Base | None = None,
        listed: Files | None = None,
    ) -> Rendered | None:
        """The render at ``sha`` as ``target`` sees it; None when it does not render there
        (``listed``: its files when the caller holds them, else the walk's)."""
        listed = listed if listed is not None else self.listed(sha)
        base = base or self.base(sha, target, listed)
        paths = self._reads.get((*base, target))
        key = self._inputs(sha, paths, listed) if paths is not None else None
        if key is not None and key in self._done:
            return _at(self._done[key], sha)
        from .render import render  # YAML and pydantic: only when something must render

        files = _Recording(GitFiles(self.repo, sha), key or (), listed)
        self.renders += 1
        done: Rendered | None
        try:
            done = render(files, self.bundle, sha, target, fast=True)
        except (ConfigError, ReconcilerError):
            done = None
        read = tuple(dict.fromkeys(files.paths))
        value = done.digests if done is not None else None
        if key is not None and paths is not None and set(read) <= set(paths):
            self.store.put(input_key(key), value)  # what it read is all there: a key too
        if key is None or read != paths:
            self._reads[(*base, target)] = read
            key = self._inputs(sha, read, listed)
        self._done[key] = done
        self.store.put(input_key(key), value)
        if done is not None and base not in self._shapes:
            shape = self._shapes[base] = shape_of(done, files.paths, 1 if target is None else 2)
            if shape is not None:
                self.store.put(shape_key(base), shape.saved())
        shape = self._shapes.get(base)
        if done is not None and shape is not None:
            self.parts.learn(shape, done, dict(key))  # the next revisions assemble from them
        return done

    def distinct(self) -> int:
        """How many distinct input sets were rendered (for the test that counts renders)."""
        return len(self._done.keys() | self._assembled.keys())


def _at(done: Rendered | None, sha: str) -> Rendered | None:
    """A shared render, labelled with the revision it was asked for."""
    if done is None or done.revision == sha:
        return done
    return dataclasses.replace(done, revision=sha)
