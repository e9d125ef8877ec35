"""Stage and switch for the ``file`` source (design §12): ``{path}.staged/<hex>.json`` beside
the serving file; the switch is a copy of the staged file renamed onto ``{path}`` (atomic)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Collection

from .file import FileSource
from .interface import NotFound
from .staging import STAGED_SUFFIX, staged_name


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
