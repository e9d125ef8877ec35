"""Persisted state shared by the CLI and the daemon: rollouts, conditions, applies, alerts,
quarantines and an append-only event log. SQLite by default (:mod:`.sqlite`)."""

from __future__ import annotations

from pathlib import Path

from ..model.rollout import Quarantine
from .interface import StateStore


def open_existing(repo_root: Path) -> StateStore | None:
    """The store, only when one exists already: read-only commands never create state."""
    if not (repo_root / ".reconciler" / "state.db").exists():
        return None
    return open_store(repo_root)


def open_store(repo_root: Path) -> StateStore:
    """The default store: ``.reconciler/state.db`` in the repo."""
    from ..statedir import state_dir
    from .sqlite import SqliteStore

    return SqliteStore(state_dir(repo_root) / "state.db")


__all__ = ["Quarantine", "StateStore", "open_existing", "open_store"]
