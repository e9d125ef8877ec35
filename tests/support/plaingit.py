"""git in a bare folder for the history tests: a command's output, and a commit of everything."""

from __future__ import annotations

import subprocess
from pathlib import Path

IDENTITY = ("-c", "user.name=T", "-c", "user.email=t@e")


def run_git(root: Path, *args: str) -> str:
    """``git -C root args...``'s output, stripped; the test fails when git does."""
    done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def commit_all(root: Path, message: str) -> str:
    """Commit every file of the work tree (an empty commit when nothing changed); its sha."""
    run_git(root, "add", "-A")
    run_git(root, *IDENTITY, "commit", "-q", "--allow-empty", "-m", message)
    return run_git(root, "rev-parse", "HEAD")
