"""``.reconciler/`` in the config repo: caches and state, never committed."""

from __future__ import annotations

from pathlib import Path


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
