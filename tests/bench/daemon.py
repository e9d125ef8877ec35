"""One real ``reconciler daemon`` process for the benchmarks: the step lines it logs and what
memory it holds (``/proc``), never a pass/fail check."""

from __future__ import annotations

import json
import subprocess
import threading
from pathlib import Path
from typing import Any

from tests.support.cli import EXE


class Daemon:
    """``reconciler --repo REPO daemon ARGS`` (listening on a free port), its step lines."""

    def __init__(self, repo: Path, *args: str) -> None:
        self.proc = subprocess.Popen(
            [str(EXE), "--repo", str(repo), "daemon", "--listen", "127.0.0.1:0", *args],
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
        )
        self.steps: list[dict[str, Any]] = []
        self.problems: list[str] = []  #: failed steps' errors, and lines that are not JSON
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            try:
                record = json.loads(line)
            except ValueError:
                self.problems.append(line.strip())
                continue
            if record.get("event") == "step":
                self.steps.append(record)
            elif record.get("event") == "step_failed":
                self.problems.append(str(record.get("error")))

    def memory_kb(self) -> dict[str, int]:
        """``VmHWM`` (peak resident set) and ``VmRSS``, in KiB."""
        found = {}
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmRSS"):
                found[key] = int(value.split()[0])
        return found

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
