"""The audit as a whole has a deadline (issue "Hardening" item 4): a target that accepts the
connection and never answers cannot hold the audit past ``--timeout``; it is ``unreachable``
with the reason "audit deadline"."""

from __future__ import annotations

import socket
import time
from pathlib import Path

from tests.support.cli import reconciler
from tests.support.configrepo import ConfigRepo, inventory


def test_a_silent_target_cannot_outlast_the_audit_deadline(tmp_path: Path) -> None:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # accepts connections (the kernel does), never answers
    port = silent.getsockname()[1]
    repo = ConfigRepo(tmp_path / "config")
    repo.bundle()
    targets = [
        {
            "name": "silent",
            "source": {"type": "http", "url": f"http://127.0.0.1:{port}/x", "timeout": "5m"},
        },
        {"name": "fine", "source": {"type": "file", "path": "fleet/fine.json"}},
    ]
    repo.write("targets/production.yaml", inventory(targets))
    repo.commit("v1")
    (repo.root / "fleet").mkdir()
    rendered = reconciler("--repo", repo.root, "render", "support-agent").out
    (repo.root / "fleet" / "fine.json").write_text(rendered)
    try:
        started = time.monotonic()
        run = reconciler(
            "--repo", repo.root, "audit", "--env", "production", "--format", "json",
            "--timeout", "1s",
        )  # fmt: skip
        took = time.monotonic() - started
    finally:
        silent.close()
    assert run.code == 2, run.err
    targets = {t["name"]: t for t in run.json()["targets"]}
    assert targets["silent"]["status"] == "unreachable"
    assert targets["silent"]["error"] == "audit deadline (1s) passed before it answered"
    assert targets["fine"]["status"] == "in_sync", "the rest of the fleet is still judged"
    assert took < 8, took


def test_timeouts_outside_the_range_are_refused() -> None:
    run = reconciler("--repo", ".", "audit", "--env", "production", "--timeout", "x")
    assert run.code == 1 and "--timeout" in run.err


def test_a_silent_outputs_endpoint_cannot_outlast_the_audit_deadline(tmp_path: Path) -> None:
    """Output sampling is inside the audit's deadline (it took 31 s of a 3 s one)."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    port = silent.getsockname()[1]
    repo = ConfigRepo(tmp_path / "config")
    repo.bundle()
    outputs = {"url": f"http://127.0.0.1:{port}/outputs", "timeout": "5m"}
    source = {"type": "file", "path": "fleet/fine.json"}
    repo.write(
        "targets/production.yaml",
        inventory([{"name": "fine", "source": source, "outputs": outputs}]),
    )
    repo.commit("v1")
    (repo.root / "fleet").mkdir()
    rendered = reconciler("--repo", repo.root, "render", "support-agent").out
    (repo.root / "fleet" / "fine.json").write_text(rendered)
    try:
        started = time.monotonic()
        run = reconciler(
            "--repo", repo.root, "audit", "--env", "production", "--format", "json",
            "--timeout", "1s",
        )  # fmt: skip
        took = time.monotonic() - started
    finally:
        silent.close()
    assert took < 8, took
    document = run.json()
    [target] = document["targets"]
    assert target["status"] == "in_sync"
    [unchecked] = [f for f in document["findings"] if f["code"] == "outputs_unchecked"]
    assert "audit deadline (1s) passed before it answered" in unchecked["message"], unchecked
