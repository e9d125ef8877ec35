"""State fails closed (issue "Hardening" item 2): an existing store that is empty, truncated or
unreadable is an error naming the file and what to do, never a fresh start; resetting it is an
explicit command that says what is lost; quarantines survive the store, noted in git."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest

from reconciler.state import open_store
from reconciler.state.sqlite import SCHEMA_VERSION
from tests.support.cli import reconciler
from tests.support.configrepo import T0, ConfigRepo, inventory

HOUR = dt.timedelta(hours=1)


def _quarantined_fleet(tmp_path: Path) -> ConfigRepo:
    """Two file targets converged to v47, then rolled back to v46: v47 is quarantined."""
    repo = ConfigRepo(tmp_path / "config")
    repo.bundle()
    targets = [
        {"name": n, "source": {"type": "file", "path": f"fleet/{n}.json"}} for n in ("us", "eu")
    ]
    repo.write("targets/production.yaml", inventory(targets))
    repo.write(".gitignore", "fleet/\n")
    (repo.root / "fleet").mkdir()
    repo.commit("v46", T0)
    repo.git("tag", "v46")
    repo.bundle(field="exec_summary")
    repo.commit("v47", T0 + HOUR)
    assert reconciler("--repo", repo.root, "converge", "--env", "production").code == 0
    back = reconciler("--repo", repo.root, "rollback", "--env", "production", "--to", "v46")
    assert back.code == 0, back.out + back.err
    return repo


def _damage(path: Path, how: str) -> None:
    if how == "empty":
        path.write_bytes(b"")
    elif how == "truncated":
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 3])
    elif how == "garbage":
        path.write_bytes(b"this is not a database\n" * 100)
    elif how == "malformed":
        with sqlite3.connect(path) as db:  # fold the WAL in: the pages live in the file itself
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        data = bytearray(path.read_bytes())
        for offset in range(4096 * 2, min(len(data), 4096 * 6)):  # scribble over table pages
            data[offset] = 0xA5
        path.write_bytes(bytes(data))


@pytest.mark.parametrize("how", ["empty", "truncated", "garbage", "malformed"])
def test_a_damaged_store_stops_every_command_that_needs_it(tmp_path: Path, how: str) -> None:
    repo = _quarantined_fleet(tmp_path)
    db = repo.root / ".reconciler" / "state.db"
    for side in ("state.db-wal", "state.db-shm"):
        (repo.root / ".reconciler" / side).unlink(missing_ok=True)
    _damage(db, how)
    for args in (("converge",), ("audit",), ("rollout", "status")):
        run = reconciler("--repo", repo.root, *args, "--env", "production")
        lines = run.err.strip().splitlines()
        assert run.code == 1, (args, run.out, run.err)
        assert len(lines) == 1 and str(db) in lines[0], (args, run.err)
        assert "state store" in lines[0] and "reconciler state reset --yes" in lines[0]
        assert "Traceback" not in run.err
    assert not (repo.root / "fleet" / "us.json").read_text().count("exec_summary"), "not rolled out"


def test_a_newer_schema_is_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    open_store(tmp_path, f"sqlite:///{path}").close()
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    run = reconciler("--repo", tmp_path, "--help")  # the CLI itself is fine
    assert run.code == 0
    from reconciler.state.interface import StateUnavailable

    with pytest.raises(StateUnavailable, match="newer than this reconciler"):
        open_store(tmp_path, f"sqlite:///{path}")


def test_reset_says_what_is_lost_and_brings_quarantines_back_from_git(tmp_path: Path) -> None:
    repo = _quarantined_fleet(tmp_path)
    notes = repo.git("notes", "--ref=refs/notes/agent-reconciler", "list")
    assert notes.strip(), "the rollback noted its quarantine on the commit"
    db = repo.root / ".reconciler" / "state.db"
    _damage(db, "empty")

    dry = reconciler("--repo", repo.root, "state", "reset")
    assert dry.code == 1 and "forgets every rollout" in dry.err and "--yes" in dry.err
    assert db.read_bytes() == b"", "nothing changed without --yes"

    done = reconciler("--repo", repo.root, "state", "reset", "--yes")
    assert done.code == 0, done.err
    assert "1 quarantine(s) restored" in done.out
    held = reconciler("--repo", repo.root, "converge", "--env", "production")
    assert held.code == 2 and "QUARANTINED" in held.out, held.out + held.err
    assert "exec_summary" not in (repo.root / "fleet" / "us.json").read_text()


def test_a_deleted_store_does_not_forget_a_quarantine(tmp_path: Path) -> None:
    repo = _quarantined_fleet(tmp_path)
    for path in (repo.root / ".reconciler").glob("state.db*"):
        path.unlink()
    held = reconciler("--repo", repo.root, "converge", "--env", "production")
    assert held.code == 2 and "QUARANTINED" in held.out, held.out + held.err
    assert "exec_summary" not in (repo.root / "fleet" / "us.json").read_text()
    resumed = reconciler("--repo", repo.root, "rollout", "resume", "--env", "production")
    assert "quarantine lifted" in resumed.out
    assert not repo.git("notes", "--ref=refs/notes/agent-reconciler", "list").strip()
