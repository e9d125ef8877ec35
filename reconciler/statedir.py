"""``.reconciler/`` in the config repo: caches and state, never committed."""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

from . import __version__


def state_dir(repo_root: Path) -> Path:
    """``.reconciler/`` in the repo, with its own ``.gitignore`` so it is never committed."""
    path = repo_root / ".reconciler"
    path.mkdir(exist_ok=True)
    ignore = path / ".gitignore"
    if not ignore.exists():
        ignore.write_text("*\n")
    return path


def cache_dir(repo_root: Path) -> Path:
    """Content-addressed caches (safe to delete at any time)."""
    path = state_dir(repo_root) / "cache"
    path.mkdir(exist_ok=True)
    return path


@functools.cache
def code_digest(*paths: str) -> str:
    """A digest of this package's own source files at ``paths`` (files or folders, relative to
    the package): what a cache entry the code there computed is keyed by, so that changed code
    never reads what older code wrote (the version number alone does not move between
    commits). Reading the few files costs well under a millisecond, once per process."""
    root = Path(__file__).parent
    digest = hashlib.sha256(__version__.encode())
    for rel in paths:
        where = root / rel
        for file in sorted(where.rglob("*.py")) if where.is_dir() else [where]:
            digest.update(file.relative_to(root).as_posix().encode() + b"\0")
            try:
                digest.update(file.read_bytes())
            except OSError:
                digest.update(b"\1")
    return digest.hexdigest()[:16]
