"""Drive the real ``reconciler`` executable, as a user or a CI job would."""

from __future__ import annotations

import json
import os
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


@dataclass
class Measured:
    """A run with its wall time and the peak resident memory of its process tree."""

    run: Run
    seconds: float
    peak_rss: int  #: bytes


def measured(*args: str | Path, env: dict[str, str] | None = None, timeout: float = 60) -> Measured:
    """Like :func:`reconciler`, also measuring time and peak RSS.

    The child is reaped with ``os.wait4``, whose ``ru_maxrss`` is this one child's peak (or of
    a process it waited for, such as git), in KiB on Linux. ``RUSAGE_CHILDREN`` deltas would
    not do: it is the maximum over every child the test process ever waited for, so a run
    smaller than an earlier one would read as the earlier one's peak.
    """
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    full_env.update(env or {})
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.monotonic()
        proc = subprocess.Popen(
            [str(EXE), *map(str, args)],
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            env=full_env,
        )
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() - started > timeout:
                proc.kill()
                os.wait4(proc.pid, 0)
                proc.returncode = -9
                raise subprocess.TimeoutExpired(proc.args, timeout)
            time.sleep(0.005)
        seconds = time.monotonic() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        run = Run(
            proc.returncode,
            out.read().decode("utf-8", "replace"),
            err.read().decode("utf-8", "replace"),
        )
    return Measured(run, seconds, usage.ru_maxrss * 1024)
