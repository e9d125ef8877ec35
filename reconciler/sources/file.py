"""The ``file`` source: a rendered bundle in a file under the repo root (design §5).

Plain blocking file I/O, so it is a :class:`~reconciler.sources.interface.SyncSource`; the
registry wraps it with :func:`~reconciler.sources.interface.threaded`.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Collection
from pathlib import Path

from ..errors import ConfigError
from .interface import (
    Health,
    InvalidResponse,
    NotFound,
    PermanentError,
    SourceError,
    TransientError,
)
from .staging import STAGED_SUFFIX, staged_name


class FileSource:
    """Reads and atomically replaces ``<repo root>/<path>``, with ``{bundle}`` filled in."""

    def __init__(self, root: Path, path: str, *, target: str, max_body: int) -> None:
        self._root = root.resolve()
        self._template = path
        self._max_body = max_body
        self.root, self.template, self.max_body = self._root, path, max_body
        # {bundle} is a plain name (no "/", never ".."), so checking the template with the
        # placeholder in place checks every bundle; symbolic links are checked per call.
        lexical = os.path.normpath(self._root / path)
        if not Path(lexical).is_relative_to(self._root):
            raise ConfigError(f"target {target}: path {path!r} escapes the repo root")

    def __repr__(self) -> str:
        return f"FileSource({self._template!r})"

    def _path(self, bundle: str) -> Path:
        try:
            path = (self._root / self._template.replace("{bundle}", bundle)).resolve()
        except (OSError, RuntimeError):  # RuntimeError: a symbolic link loop (Python 3.11)
            raise PermanentError("path cannot be resolved (symbolic link loop?)") from None
        if not path.is_relative_to(self._root):
            raise PermanentError("path resolves outside the repo root (symbolic link?)")
        return path

    def path_of(self, bundle: str) -> Path:
        """Where ``bundle``'s document lives (symbolic links checked)."""
        return self._path(bundle)

    def staging(self) -> FileStager:
        """Staged copies beside the file (design §12)."""
        return FileStager(self)

    def _shown(self, path: Path) -> str:
        return path.relative_to(self._root).as_posix() or "."

    def fetch(self, bundle: str) -> bytes:
        path = self._path(bundle)
        try:
            # O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever.
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
            with os.fdopen(fd, "rb") as handle:
                info = os.fstat(fd)
                if not stat.S_ISREG(info.st_mode):
                    raise _not_a_file(info.st_mode, self._shown(path))
                # Check the size before reading, and read one byte more in case it grows.
                if info.st_size > self._max_body:
                    raise _too_large(self._max_body)
                data = handle.read(self._max_body + 1)
        except FileNotFoundError:
            if path.parent.is_dir():
                raise NotFound(f"file {self._shown(path)} does not exist") from None
            raise TransientError(f"folder {self._shown(path.parent)} does not exist") from None
        except OSError as exc:
            with contextlib.suppress(OSError):
                mode = os.stat(path).st_mode  # a socket cannot even be opened (ENXIO)
                if not stat.S_ISREG(mode):
                    raise _not_a_file(mode, self._shown(path)) from None
            raise _os_error(exc, "reading", self._shown(path)) from None
        if len(data) > self._max_body:
            raise _too_large(self._max_body)
        return data

    def apply(self, bundle: str, document: bytes) -> None:
        path = self._path(bundle)
        try:
            mode = path.stat().st_mode
        except FileNotFoundError:
            mode = stat.S_IFREG
        except OSError as exc:
            raise _os_error(exc, "writing", self._shown(path)) from None
        if not stat.S_ISREG(mode):
            raise _not_a_file(mode, self._shown(path))  # never replace a FIFO, a socket...
        try:
            _write_atomically(path, document)
        except OSError as exc:
            raise _os_error(exc, "writing", self._shown(path)) from None

    def health(self) -> Health:
        return Health(ok=True)

    def close(self) -> None:
        return None


class FileStager:
    """The staged copies of one file target (a :class:`~.staging.SyncStager`)."""

    stages = True
    uploads = False

    def __init__(self, source: FileSource) -> None:
        self.source = source

    def _copy(self, hex_: str) -> FileSource:
        source = self.source
        return FileSource(
            source.root,
            staged_name(source.template, hex_),
            target="staged copy",
            max_body=source.max_body,
        )

    def stage(self, bundle: str, hex_: str, document: bytes) -> None:
        self._copy(hex_).apply(bundle, document)

    def read_staged(self, bundle: str, hex_: str, document: bytes) -> bytes:
        copy = self._copy(hex_)
        if not copy.path_of(bundle).is_file():
            raise NotFound(f"staged copy {hex_[:12]} is gone")
        return copy.fetch(bundle)

    def switch(self, bundle: str, hex_: str, document: bytes) -> None:
        staged = self.read_staged(bundle, hex_, document)
        self.source.apply(bundle, staged)  # a temp copy renamed onto the path: atomic

    def staged(self, bundle: str) -> list[str] | None:
        folder = self.source.path_of(bundle).parent / (
            self.source.path_of(bundle).name + STAGED_SUFFIX.rstrip("/")
        )
        try:
            names = os.listdir(folder)
        except FileNotFoundError:
            return []
        return sorted(n.removesuffix(".json") for n in names if n.endswith(".json"))

    def drop(self, bundle: str, hexes: Collection[str]) -> None:
        for hex_ in hexes:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._copy(hex_).path_of(bundle))


def _write_atomically(path: Path, document: bytes) -> None:
    """Write a temp file beside ``path``, fsync it, rename it over ``path``, fsync the folder.

    Readers see the old document or the new one, never a torn one, even after a crash.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        mode = 0o644  # mkstemp would leave 0600, which a web server in front could not read
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(document)
            handle.flush()
            os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def _not_a_file(mode: int, shown: str) -> PermanentError:
    """Only regular files hold documents: a FIFO would block, a device never ends."""
    if stat.S_ISDIR(mode):
        return PermanentError(f"{shown} is a folder, not a file")
    kinds = {stat.S_IFIFO: "a FIFO", stat.S_IFSOCK: "a socket", stat.S_IFCHR: "a device"}
    kind = kinds.get(stat.S_IFMT(mode), "a special file")
    if stat.S_ISBLK(mode):
        kind = "a device"
    return PermanentError(f"{shown} is {kind}, not a regular file")


def _too_large(limit: int) -> InvalidResponse:
    return InvalidResponse(f"response larger than {limit} bytes")


def _os_error(exc: OSError, doing: str, shown: str) -> SourceError:
    if isinstance(exc, IsADirectoryError):
        return PermanentError(f"{shown} is a folder, not a file")
    if isinstance(exc, PermissionError):
        return PermanentError(f"permission denied {doing} {shown}")
    return TransientError(f"{doing} {shown} failed: {exc.strerror or type(exc).__name__}")
