"""What every test server needs: a free port on 127.0.0.1, its log's tail, and a clean stop."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from pathlib import Path


def free_port() -> int:
    """A port nothing listens on right now (the OS picks it; the caller binds it soon after)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def log_tail(log: Path, size: int = 3000) -> str:
    """The end of a server's log, for the message when it fails to start or dies."""
    return log.read_text(errors="replace")[-size:] if log.exists() else ""


def stop_group(process: subprocess.Popen[bytes], grace: float = 15.0) -> None:
    """SIGTERM the group ``process`` leads (children too), SIGKILL it after ``grace`` seconds."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
