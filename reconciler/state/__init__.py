"""Persisted state shared by the CLI and the daemon: rollouts, conditions, applies, alerts,
quarantines, first sightings, evals, an append-only event log, and a lease per environment.

``--state URL`` (or ``RECONCILER_STATE_URL``) picks the backend: ``sqlite:///path`` (the
embedded default, ``.reconciler/state.db`` in the repo) or ``postgresql://...`` (shared by
several daemons). No layer above this one imports rollout, audit or git.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from ..errors import ConfigError
from ..model.rollout import Quarantine
from .interface import (
    Deposed,
    EvalRecord,
    Lease,
    LeaseHeld,
    LeaseInfo,
    StateStore,
    StateUnavailable,
)

#: The environment variable that names the store when ``--state`` does not.
STATE_URL_VARIABLE = "RECONCILER_STATE_URL"
_POSTGRES = ("postgresql://", "postgres://")


def default_path(repo_root: Path) -> Path:
    """``.reconciler/state.db`` in the repo."""
    return repo_root / ".reconciler" / "state.db"


def state_url(repo_root: Path, url: str | None, env: Mapping[str, str] | None = None) -> str:
    """The store's URL: ``url``, else ``$RECONCILER_STATE_URL``, else the embedded default.

    ``${VAR}`` references in it are expanded from the environment (a password never needs to
    be written in a command line or a file); in a ``postgresql://`` URL each value is
    percent-encoded, so a password holding ``@``, ``/`` or ``:`` stays one password.
    """
    environ = os.environ if env is None else env
    chosen = url or environ.get(STATE_URL_VARIABLE) or ""
    if not chosen:
        return f"sqlite:///{default_path(repo_root)}"
    from urllib.parse import quote

    from ..variables import expand  # light: no source backend is imported

    encode = (lambda v: quote(v, safe="")) if chosen.startswith(_POSTGRES) else None
    return expand(chosen, environ, "--state", encode)


def open_store(repo_root: Path, url: str | None = None) -> StateStore:
    """The store ``url`` names (see :func:`state_url`), created when it does not exist yet."""
    resolved = state_url(repo_root, url)
    if resolved.startswith(_POSTGRES):
        from .postgres import PostgresStore

        return PostgresStore(resolved)
    check_state(repo_root, resolved)
    from .sqlite import SqliteStore

    return SqliteStore(sqlite_path(repo_root, resolved))


def sqlite_path(repo_root: Path, resolved: str) -> Path:
    """The file a ``sqlite:///`` URL names, its folder made (a folder that cannot be: one line)."""
    from ..statedir import state_dir

    path = Path(resolved.removeprefix("sqlite:///"))
    if not path.is_absolute():
        path = repo_root / path
    try:
        if path == default_path(repo_root):
            state_dir(repo_root)  # .reconciler/ with its own .gitignore
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StateUnavailable(
            f"--state: cannot make the folder of {path} ({exc.strerror or exc})"
        ) from None
    return path


def check_state(repo_root: Path, url: str | None) -> None:
    """What can be known of the store's URL without connecting: its scheme, and for SQLite
    that its folder can be made (the daemon exits 1 on these, as every command does)."""
    resolved = state_url(repo_root, url)
    if resolved.startswith(_POSTGRES):
        from .postgres import check_url

        check_url(resolved)
    elif resolved.startswith("sqlite:///"):
        sqlite_path(repo_root, resolved)
    else:
        raise ConfigError(
            "--state: expected sqlite:///PATH or postgresql://..., "
            f"got {resolved.split(':', 1)[0]!r}"
        )


def open_existing(repo_root: Path, url: str | None = None) -> StateStore | None:
    """The store, only when one exists already: read-only commands never create state.

    A PostgreSQL store always "exists" (the database is the operator's); an SQLite file is
    looked for without being created.
    """
    resolved = state_url(repo_root, url)
    if resolved.startswith("sqlite:///"):
        path = Path(resolved.removeprefix("sqlite:///"))
        if not path.is_absolute():
            path = repo_root / path
        if not path.exists():
            return None
    return open_store(repo_root, url)


__all__ = [
    "STATE_URL_VARIABLE",
    "Deposed",
    "EvalRecord",
    "Lease",
    "LeaseHeld",
    "LeaseInfo",
    "Quarantine",
    "StateStore",
    "StateUnavailable",
    "check_state",
    "default_path",
    "open_existing",
    "open_store",
    "state_url",
]
