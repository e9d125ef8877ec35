"""The repo's working tree as a :class:`~reconciler.bundle.render.BundleFiles` (``validate``)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ..errors import ConfigError
from ..limits import MAX_DOCUMENT, size_text


class WorkTreeFiles:
    """Files as they are on disk now, as git would hand them to ``audit``.

    Refuses what a read from git refuses (:meth:`reconciler.bundle.gitrepo.GitRepo.read`), with the
    same words: a symbolic link anywhere on the path. Reads only regular files, without ever
    blocking on a FIFO or a device, and never more than :data:`~reconciler.limits.MAX_DOCUMENT`
    (the caller applies the cap for the kind of file).
    """

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def read(self, path: str) -> bytes:
        parts = Path(path).parts
        if Path(path).is_absolute() or ".." in parts:
            raise ConfigError("resolves outside the repository", file=path)
        full = self.root
        for part in parts:
            full = full / part
            try:
                mode = full.lstat().st_mode
            except FileNotFoundError:
                raise FileNotFoundError(path) from None
            except OSError as exc:
                raise ConfigError(f"cannot read: {exc.strerror}", file=path) from None
            if stat.S_ISLNK(mode):
                shown = full.relative_to(self.root).as_posix()
                raise ConfigError("symbolic links are not allowed in a bundle", file=shown)
        if stat.S_ISDIR(mode):
            raise FileNotFoundError(path)
        if not stat.S_ISREG(mode):
            raise ConfigError("not a regular file", file=path)
        try:
            fd = os.open(full, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError as exc:
            raise ConfigError(f"cannot read: {exc.strerror}", file=path) from None
        with os.fdopen(fd, "rb") as handle:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):  # swapped since the lstat
                raise ConfigError("not a regular file", file=path)
            if info.st_size > MAX_DOCUMENT:
                raise ConfigError(
                    f"file is larger than {size_text(MAX_DOCUMENT)} ({info.st_size} bytes)",
                    file=path,
                )
            return handle.read(MAX_DOCUMENT + 1)
