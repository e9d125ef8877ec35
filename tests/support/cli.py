"""Drive the real ``reconciler`` executable, as a user or a CI job would."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

EXE = Path(sys.executable).parent / "reconciler"


@dataclass
class Run:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


def reconciler(*args: str | Path, env: dict[str, str] | None = None, timeout: float = 60) -> Run:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    full_env.update(env or {})
    proc = subprocess.run(
        [str(EXE), *map(str, args)],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)


def validate_errors(root: Path, file: str = "targets/production.yaml") -> list[str]:
    """``reconciler validate`` of a repo with bad input: exit 1, no traceback, and its one-line
    errors that name ``file`` (at least one)."""
    run = reconciler("--repo", root, "validate")
    assert run.code == 1, run.out + run.err
    assert "Traceback" not in run.err
    errors = [line for line in run.err.splitlines() if file in line]
    assert errors, run.err
    return errors


@dataclass
class Measured:
    """A run with its wall time and the peak resident memory of its process tree."""

    run: Run
    seconds: float
    peak_rss: int  #: bytes


#: A small process that starts the measured command and reports its peak RSS. On Linux a child's
#: ``ru_maxrss`` starts from the high-water mark of the process it was forked from (exec keeps it),
#: so a child forked straight from this test process would read as at least as large as pytest
#: itself, whatever the tests before loaded (scipy, the Unleash SDK). Forked from this launcher
#: (``python -S``: a few MB), the figure is the command's own.
_LAUNCHER = """
import os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as out:
    out.write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status))
"""


def measured(*args: str | Path, env: dict[str, str] | None = None, timeout: float = 60) -> Measured:
    """Like :func:`reconciler`, also measuring time and peak RSS.

    The command runs under :data:`_LAUNCHER`, which reaps it with ``os.wait4``: its
    ``ru_maxrss`` is this one child's peak (or of a process it waited for, such as git), in KiB
    on Linux. ``RUSAGE_CHILDREN`` deltas would not do: it is the maximum over every child the
    test process ever waited for, so a run smaller than an earlier one would read as the earlier
    one's peak.
    """
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    full_env.update(env or {})
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.TemporaryDirectory() as scratch,
    ):
        peak = Path(scratch) / "peak"
        started = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, "-S", "-c", _LAUNCHER, str(peak), str(EXE), *map(str, args)],
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            env=full_env,
            start_new_session=True,  # a timeout kills the launcher and the command together
        )
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise
        seconds = time.monotonic() - started
        out.seek(0)
        err.seek(0)
        run = Run(
            proc.returncode,
            out.read().decode("utf-8", "replace"),
            err.read().decode("utf-8", "replace"),
        )
        rss_kib = int(peak.read_text())
    return Measured(run, seconds, rss_kib * 1024)
