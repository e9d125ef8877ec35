"""``reconciler state reset``: start a damaged or unwanted SQLite store over, without ever making
two writers of one environment.

A live lease means a writer (a daemon, a converge) is using the store: the reset refuses unless
``--force``. A readable store is started over in place — copied aside, then emptied in one
transaction but for its leases — so its writers go on in the same file with the same fencing
tokens, and nobody can take an environment meanwhile. Only a store that cannot be read is
renamed aside and replaced; a writer that still had it open notices the new file at its next
write (the inode changed) and writes nothing more to the old one.
"""

from __future__ import annotations

import time
from pathlib import Path

from ..model.rollout import Quarantine
from ..state.interface import LeaseInfo, StateUnavailable
from ..state.sqlite import SqliteStore
from . import notes


def reset_state(
    repo_root: Path, url: str | None, *, yes: bool, force: bool = False
) -> tuple[int, list[str]]:
    """Say what is lost first; without ``yes`` change nothing. Quarantines come back from the
    git notes every rollback wrote (see :mod:`.notes`), so the bad content stays held."""
    from ..state import state_url

    resolved = state_url(repo_root, url)
    if not resolved.startswith("sqlite:///"):
        return 1, [
            "error: only an SQLite store is reset here; reset a shared PostgreSQL store with "
            "your database's own tools (it serves other daemons)"
        ]
    path = Path(resolved.removeprefix("sqlite:///"))
    path = path if path.is_absolute() else repo_root / path
    noted = notes.read([repo_root])
    lost = (
        f"resetting {path} forgets every rollout and its conditions, the alert history, the "
        "target statuses, the first sightings of revisions (skew clocks restart from git time), "
        "and the eval records"
    )
    kept = f"{len(noted)} quarantine(s) noted in git (refs/notes/agent-reconciler) come back"
    live = _live_leases(path)
    held = [f"{i.environment}: {i.holder} ({i.seconds_left:.0f}s left)" for i in live]
    if live and not force:
        return 1, [
            f"error: state reset: {path} is in use: a live lease on "
            f"{'; '.join(held)}; stop that writer first, or pass --force "
            "(it then writes to the new store only)"
        ]
    if not yes:
        return 1, [lost, kept, "nothing was changed: run again with --yes to reset"]
    lines = [lost, kept]
    aside = path.with_name(f"{path.name}.broken-{int(time.time())}")
    store = _readable(path)
    if store is not None:
        try:
            store.start_over(aside, noted)
        finally:
            store.close()
        lines.append(f"the old store is kept at {aside}")
        if live:
            lines.append(f"the live lease(s) are kept: {'; '.join(held)}")
    else:
        if path.exists():
            path.rename(aside)
            for suffix in ("-wal", "-shm"):
                side = path.with_name(path.name + suffix)
                if side.exists():
                    side.rename(aside.with_name(aside.name + suffix))
            lines.append(f"the old store is kept at {aside}")
        _fresh(path, noted)
    lines.append(f"a new, empty store is at {path}; {len(noted)} quarantine(s) restored")
    return 0, lines


def _readable(path: Path) -> SqliteStore | None:
    """The store at ``path`` when it exists and can be read (None: missing or damaged)."""
    if not path.exists():
        return None
    try:
        store = SqliteStore(path)
        store.leases()
    except StateUnavailable:
        return None
    return store


def _live_leases(path: Path) -> list[LeaseInfo]:
    """The live leases in the store at ``path`` (none when it cannot be read: damaged)."""
    store = _readable(path)
    if store is None:
        return []
    try:
        return [info for info in store.leases() if info.live]
    finally:
        store.close()


def _fresh(path: Path, noted: list[Quarantine]) -> None:
    """A new store at ``path``, with the quarantines noted in git."""
    path.parent.mkdir(parents=True, exist_ok=True)
    store = SqliteStore(path)
    try:
        for q in noted:
            store.quarantine(q)
    finally:
        store.close()
