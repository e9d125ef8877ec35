"""A past revision's component digests assembled from its files' blobs, without a render.

When bundle.yaml and the overlay are blobs a render already read, everything but the files
they name is that render's; each file's component is read and digested once per blob id, so a
revision that changed only files costs a lookup per file, not a parse and a validation.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from json.encoder import encode_basestring
from typing import Any, Protocol

from ..canonical import digest
from ..errors import ConfigError, ReconcilerError
from ..limits import MAX_DOCUMENT, MAX_FILE
from .gitrepo import GitRepo
from .rendered import Rendered

#: Components a file holds, by the prefix of their key.
FILE_KINDS = ("prompt/", "tool/", "output_schema/")
#: Modes of a regular file in a git tree, as :meth:`GitRepo.entry_id` spells them.
FILES = ("100644 ", "100755 ")
#: An assembled render this near the document cap is rendered instead (its size exactly).
_MARGIN = 0.9

#: One file's component: its digest and its size in the rendered document; None when the file
#: does not render (the revision does not either).
Part = tuple[str, int] | None
_UNKNOWN: Part = ("", -1)  #: a part not read yet (None is a file that does not render)
UNKNOWN = _UNKNOWN  #: what :meth:`Parts.part` answers when only a render can tell
#: :func:`measure` of ``{"text": s}`` past ``s``'s own JSON: ``{\n  "text": `` and ``\n}``, and
#: 4 for each of the two line breaks.
_PROMPT_FRAME = 12 + 2 + 8


class Store(Protocol):
    """The persistent index (:class:`~.historyindex.DigestCache`): entries by key, in one file."""

    def get(self, key: str) -> tuple[bool, dict[str, str] | None]: ...

    def put(self, key: str, digests: dict[str, str] | None) -> None: ...


class Memory:
    """A :class:`Store` that keeps nothing past the process."""

    def __init__(self) -> None:
        self.entries: dict[str, dict[str, str] | None] = {}

    def get(self, key: str) -> tuple[bool, dict[str, str] | None]:
        return key in self.entries, self.entries.get(key)

    def put(self, key: str, digests: dict[str, str] | None) -> None:
        self.entries[key] = digests


def input_key(key: tuple[tuple[str, str | None], ...]) -> str:
    """The index's key of a set of inputs (paths and their blob ids)."""
    text = "\0".join(f"{path}\0{ident}" for path, ident in key)  # git paths hold no NUL
    return "in:" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def shape_key(base: tuple[str | None, str | None]) -> str:
    """The index's key of a shape: the bundle.yaml and overlay blob ids."""
    return f"shape:{base[0]}|{base[1]}"


@dataclass(frozen=True, slots=True)
class Shape:
    """What a render with one bundle.yaml and overlay gave, apart from its files' contents."""

    order: tuple[str, ...]  #: every component key, in the render's order
    fixed: dict[str, str]  #: digests of the components no file holds
    files: tuple[tuple[str, str], ...]  #: (component key, path) of each file read, in order
    rest: int  #: the render's measured size without the files' components

    def saved(self) -> dict[str, str]:
        """As the index stores it."""
        return {
            "order": json.dumps(self.order),
            "fixed": json.dumps(self.fixed),
            "files": json.dumps(self.files),
            "rest": str(self.rest),
        }

    @classmethod
    def load(cls, saved: dict[str, str]) -> Shape | None:
        """As :meth:`saved` stored it; None when damaged."""
        try:
            files = tuple((str(key), str(path)) for key, path in json.loads(saved["files"]))
            order = tuple(str(key) for key in json.loads(saved["order"]))
            fixed = {str(key): str(value) for key, value in json.loads(saved["fixed"]).items()}
            return cls(order, fixed, files, int(saved["rest"]))
        except (KeyError, ValueError, TypeError, AttributeError):
            return None


@functools.cache
def _loader() -> Callable[[str, bytes, str], Any]:
    """:func:`~.fastload.file_component`, imported when first needed (YAML and pydantic)."""
    from .fastload import file_component

    return file_component


def fits(size: int) -> bool:
    """Whether a render of this measured size is safely within the document cap (one nearer is
    rendered instead, to measure it exactly)."""
    return size * 2 < MAX_DOCUMENT * _MARGIN


def measure(value: Any) -> int:
    """``value``'s share of the measured size of a rendered document, where a component sits
    two levels deep (TypeError for what the measure cannot encode)."""
    import orjson

    text = orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
    return len(text) + 4 * text.count(b"\n")


def _prompt_text(text: str) -> tuple[str, int]:
    """:func:`~reconciler.canonical.digest` and :func:`measure` of a prompt's component,
    ``{"text": text}``, without the encoders' set-up per call (a thousand revisions, a thousand
    prompts): its canonical JSON is ``{"text":`` and ``}`` around the string's, which is also
    what the measure counts of it; the same figures, as a test checks."""
    canonical = ('{"text":' + encode_basestring(text) + "}").encode("utf-8")
    return "sha256:" + hashlib.sha256(canonical).hexdigest(), len(canonical) - 9 + _PROMPT_FRAME


def shape_of(done: Rendered, reads: list[str], leading: int) -> Shape | None:
    """The shape of ``done``, whose render read ``reads`` (bundle.yaml and the overlay first);
    None when the reads do not pair one to one with its file components."""
    import orjson

    keys = [key for key in done.components if key.startswith(FILE_KINDS)]
    paths = reads[leading:]
    if len(paths) != len(keys):
        return None
    try:
        near = len(orjson.dumps(done.to_json(), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
        rest = near - sum(measure(done.components[key]) for key in keys)
    except TypeError:
        return None
    fixed = {key: value for key, value in done.digests.items() if key not in keys}
    return Shape(tuple(done.components), fixed, tuple(zip(keys, paths, strict=True)), rest)


class Parts:
    """File components' digests by blob id, each file read and digested once."""

    def __init__(self, repo: GitRepo, store: Store) -> None:
        self.repo = repo
        self.store = store
        self._parts: dict[tuple[str, str], Part] = {}

    @property
    def known(self) -> Mapping[tuple[str, str], Part]:
        """The parts digested so far, by (kind, blob id) (read it, never change it)."""
        return self._parts

    def assemble(
        self, shape: Shape, ids: dict[str, str | None], sha: str
    ) -> tuple[bool, dict[str, str] | None]:
        """The digests at ``sha``, whose files have the ``ids`` (path -> mode and blob id):
        (True, digests), (True, None) when it does not render, (False, None) when only a
        render can tell (a link, a missing file, a size near the cap)."""
        found: dict[str, str] = {}
        size = shape.rest
        known = self._parts
        for key, path in shape.files:  # a thousand revisions of twenty files: kept lean
            ident = ids.get(path)
            if ident is None or not ident.startswith(FILES):
                return False, None
            at = (key.partition("/")[0], ident[7:])  # (kind, blob id): FILES modes are 7 wide
            part = known.get(at, _UNKNOWN)
            if part is _UNKNOWN:
                part = self.part(key, ident, path, sha)
                if part is _UNKNOWN:
                    return False, None
            if part is None:
                return True, None
            found[key], share = part
            size += share
        if not fits(size):
            return False, None
        found.update(shape.fixed)  # the components no file holds (never a file's key)
        return True, {key: found[key] for key in shape.order}

    def part(self, key: str, ident: str | None, path: str, sha: str) -> Part:
        """The part of component ``key`` read from ``path`` (mode and blob id ``ident``) at
        ``sha``: :data:`UNKNOWN` when only a render can tell (not a regular file, or a value
        the measure cannot encode)."""
        if ident is None or not ident.startswith(FILES):
            return _UNKNOWN
        at = (key.partition("/")[0], ident[7:])  # (kind, blob id): FILES modes are 7 wide
        part = self._parts.get(at, _UNKNOWN)
        if part is _UNKNOWN:
            try:
                part = self._parts[at] = self._part(*at, path, sha)
            except (TypeError, ValueError, KeyError):
                return _UNKNOWN
        return part

    def ahead(self, kind: str, blob: str, path: str) -> bool:
        """Digest the part of a blob already read, before any lineage asks for it (while git
        writes the log); whether it was read."""
        data = self.repo.loaded(blob)
        if data is None:
            return False
        at = (kind, blob)
        if at not in self._parts:
            with contextlib.suppress(TypeError, ValueError, KeyError):  # the lineage says
                part = self._parts[at] = self._digest(kind, data, path)
                self._keep(kind, blob, part)
        return True

    def learn(self, shape: Shape, done: Rendered, ids: dict[str, str | None]) -> None:
        """Keep the parts of a render of ``shape`` whose files had these ``ids``."""
        for key, path in shape.files:
            ident = ids.get(path)
            component = done.components.get(key)
            if ident is None or not ident.startswith(FILES) or component is None:
                continue
            at = (key.partition("/")[0], ident[7:])
            if at in self._parts:
                continue
            try:
                found, size = done.digests[key], measure(component)
            except (TypeError, KeyError):
                continue
            self._parts[at] = (found, size)
            name = f"part:{at[0]}:{at[1]}"
            if not self.store.get(name)[0]:
                self.store.put(name, {"digest": found, "size": str(size)})

    def unread(self, wanted: set[tuple[str, str]]) -> list[str]:
        """The blob ids of these (kind, blob id) parts that neither memory nor the index knows."""
        return [
            blob
            for kind, blob in wanted
            if (kind, blob) not in self._parts and not self.store.get(f"part:{kind}:{blob}")[0]
        ]

    def _part(self, kind: str, blob: str, path: str, sha: str) -> Part:
        """From the index, else read once (TypeError for what cannot be measured)."""
        hit, saved = self.store.get(f"part:{kind}:{blob}")
        if hit:
            return None if saved is None else (saved["digest"], int(saved["size"]))
        part = self._digest(kind, self.repo.blob(blob, path, sha), path)
        self._keep(kind, blob, part)
        return part

    def _keep(self, kind: str, blob: str, part: Part) -> None:
        saved = None if part is None else {"digest": part[0], "size": str(part[1])}
        self.store.put(f"part:{kind}:{blob}", saved)

    @staticmethod
    def _digest(kind: str, data: bytes, path: str) -> Part:
        """The part of a file of ``kind`` holding ``data`` (TypeError for what cannot be
        measured)."""
        try:
            if kind == "prompt":  # a prompt's component is its text: no parse, no copy kept
                return _prompt_text(data.decode("utf-8")) if len(data) <= MAX_FILE else None
            value = _loader()(kind, data, path)
            return digest(value), measure(value)
        except (ConfigError, ReconcilerError, UnicodeDecodeError):
            return None
