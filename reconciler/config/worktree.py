"""The repo's working tree as a :class:`~reconciler.render.BundleFiles` (for ``validate``)."""

from __future__ import annotations

from pathlib import Path

from ..errors import ConfigError


class WorkTreeFiles:
    """Files as they are on disk now, refusing anything that resolves outside the repo."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def read(self, path: str) -> bytes:
        full = (self.root / path).resolve()
        if not full.is_relative_to(self.root):
            raise ConfigError("resolves outside the repository (symbolic link?)", file=path)
        if not full.is_file():
            raise FileNotFoundError(path)
        return full.read_bytes()
