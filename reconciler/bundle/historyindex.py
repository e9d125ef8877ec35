"""The history index on disk, under ``.reconciler/cache/``: component digests by render key
(``history.json``), the content-addressed index beside it (``history-blobs.json``), and the
desired revision's renders.

Keys are git object ids (a bundle folder's tree, a blob), which are content hashes, so nothing
here ever needs invalidating. Failing to write a cache never fails an audit.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import orjson

from .rendered import Rendered

CACHE_VERSION = 2
#: The code a render depends on: a stored render is read back only by the code that made it.
RENDERER = (
    "bundle/render.py",
    "bundle/rendered.py",
    "canonical.py",
    "config",
    "limits.py",
    "model",
)
#: Stored renders kept per renderer; the oldest go when there are more.
KEEP_RENDERS = 64
#: Renders written between two prunings of the oldest (a cold audit of fifty overlays writes
#: fifty): the folder holds at most this many more than :data:`KEEP_RENDERS`.
PRUNE_EVERY = 16


class DigestCache:
    """Component digests per render key, persisted as one JSON file (read when first asked).

    Its :attr:`index` beside it (``<name>-blobs.json``) is the content-addressed history index
    (:mod:`.parts`): file components by blob id, render shapes and digests by input blob ids.
    """

    def __init__(self, path: Path | None, *, index: bool = True) -> None:
        self.path = path
        self._entries: dict[str, dict[str, str] | None] | None = None
        self.dirty = False
        beside = path.with_name(f"{path.stem}-blobs.json") if path is not None else None
        self.index: DigestCache | None = DigestCache(beside, index=False) if index else None

    @property
    def entries(self) -> dict[str, dict[str, str] | None]:
        if self._entries is None:
            self._entries = {}
            if self.path is not None and self.path.exists():
                try:
                    data = orjson.loads(self.path.read_bytes())
                    if data.get("version") == CACHE_VERSION:
                        self._entries = data["entries"]
                except (ValueError, KeyError, OSError, AttributeError):
                    self._entries = {}  # a damaged cache is only a slower audit
        return self._entries

    def get(self, key: str) -> tuple[bool, dict[str, str] | None]:
        entries = self.entries
        if key in entries:
            return True, entries[key]
        return False, None

    def put(self, key: str, digests: dict[str, str] | None) -> None:
        self.entries[key] = digests
        self.dirty = True

    def prune(self, prefix: str, keep: int) -> None:
        """Keep only the ``keep`` newest entries whose key starts with ``prefix``."""
        entries = self.entries
        named = [key for key in entries if key.startswith(prefix)]
        for key in named[:-keep]:
            del entries[key]
            self.dirty = True

    def save(self) -> None:
        """Write atomically; failing to write a cache never fails an audit."""
        if self.index is not None:
            self.index.save()
        if self.path is None or not self.dirty:
            return
        try:
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".cache-")
            with os.fdopen(fd, "wb") as handle:  # one write: orjson, ~10x the stdlib's encoder
                handle.write(orjson.dumps({"version": CACHE_VERSION, "entries": self.entries}))
            os.replace(tmp, self.path)
            self.dirty = False
        except OSError:
            pass


class RenderStore:
    """Renders of desired revisions on disk, keyed like the digests (git object ids) and by the
    renderer's own code, so an audit whose desired bundle was rendered before reads it back
    instead of parsing YAML and validating it again (no ruamel, no pydantic on that path).

    Each entry is checked when read: its digests are computed again from its components.
    """

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        self._puts = 0

    def _file(self, key: str) -> Path | None:
        if self.folder is None:
            return None
        return self.folder / (key.replace("|", "-") + ".json")

    def get(self, key: str, sha: str) -> Rendered | None:
        path = self._file(key)
        if path is None:
            return None
        try:
            # orjson reads an integer past 64 bits as a float: the digest below then differs,
            # and the revision is rendered again.
            data = orjson.loads(path.read_bytes())
            stored = Rendered.build(data["name"], sha, data["components"])
        except (OSError, ValueError, KeyError, TypeError):
            return None  # absent or damaged: rendered again
        return stored if stored.digest == data.get("digest") else None

    def put(self, key: str, done: Rendered) -> None:
        """Write atomically; failing to write a cache never fails an audit."""
        path = self._file(key)
        if path is None:
            return
        data = {"name": done.name, "components": done.components, "digest": done.digest}
        try:
            raw = orjson.dumps(data)
        except TypeError:  # an integer past 64 bits
            raw = json.dumps(data, ensure_ascii=False).encode("utf-8", "surrogatepass")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".render-")
            with os.fdopen(fd, "wb") as handle:
                handle.write(raw)
            os.replace(tmp, path)
            self._puts += 1
            if self._puts % PRUNE_EVERY == 1:  # a stat of every entry: not at every put
                kept = sorted(path.parent.glob("*.json"), key=lambda f: f.stat().st_mtime)
                for old in kept[:-KEEP_RENDERS]:
                    old.unlink(missing_ok=True)
        except OSError:
            pass
