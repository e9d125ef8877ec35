"""The daemon under hostile conditions (issue "Hardening"): a half-sent request, a connection
flood, an address that does not resolve, a remote that does not exist, a remote whose default
branch is not ``main``."""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from reconciler.daemon import server as status_server
from reconciler.daemon.metrics import Metrics
from reconciler.daemon.server import StatusServer
from reconciler.errors import ReconcilerError
from tests.daemon.support import DaemonProcess, Remote
from tests.support.cli import reconciler
from tests.support.configrepo import ConfigRepo, inventory


def _server(monkeypatch: pytest.MonkeyPatch, **limits: float) -> StatusServer:
    for name, value in limits.items():
        monkeypatch.setattr(status_server, name, value)
    metrics = Metrics("production")
    return StatusServer(
        "127.0.0.1:0",
        metrics=metrics.render,
        status=lambda: {"ok": True},
        alive=lambda: True,
        ready=lambda: True,
    )


def _healthz(url: str) -> int:
    with urllib.request.urlopen(url + "/healthz", timeout=5) as response:
        return response.status


def test_a_half_sent_request_is_dropped_after_the_read_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with _server(monkeypatch, READ_TIMEOUT=0.5, LIFETIME=5.0) as running:
        stalled = socket.create_connection(("127.0.0.1", running.port))
        stalled.sendall(b"GET /status HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
        started = time.monotonic()
        stalled.settimeout(5)
        assert stalled.recv(1024) == b"", "the server closed the connection"
        assert time.monotonic() - started < 3
        assert _healthz(running.url) == 200


def test_a_trickled_request_cannot_outlive_the_connection_lifetime(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with _server(monkeypatch, READ_TIMEOUT=1.0, LIFETIME=1.5) as running:
        slow = socket.create_connection(("127.0.0.1", running.port))
        slow.settimeout(0.2)
        started, closed = time.monotonic(), False
        while time.monotonic() - started < 6 and not closed:
            try:
                slow.sendall(b"X")  # one byte every 0.2 s: each read is quick
                closed = slow.recv(1024) == b""
            except TimeoutError:
                continue
            except OSError:
                closed = True
        assert closed and time.monotonic() - started < 4


def test_connections_beyond_the_cap_are_refused_not_queued(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with _server(monkeypatch, READ_TIMEOUT=5.0, LIFETIME=10.0, MAX_CONNECTIONS=4) as running:
        held = [socket.create_connection(("127.0.0.1", running.port)) for _ in range(4)]
        time.sleep(0.3)  # let the server take them (there is no event to wait for)
        extra = socket.create_connection(("127.0.0.1", running.port))
        extra.settimeout(3)
        assert extra.recv(1024) == b"", "the fifth connection is closed at once"
        for sock in held:
            sock.close()
        time.sleep(0.3)
        assert _healthz(running.url) == 200, "and the slots come back"


def test_an_address_that_does_not_resolve_is_one_line() -> None:
    server = StatusServer(
        "999.1.1.1:80", metrics=lambda: (b"", ""), status=dict, alive=bool, ready=bool
    )
    with pytest.raises(ReconcilerError, match=r"--listen 999\.1\.1\.1:80: cannot listen there"):
        server.start()


def test_the_daemon_refuses_an_address_it_cannot_bind_in_one_line(tmp_path: Path) -> None:
    repo = ConfigRepo(tmp_path / "config")
    repo.bundle()
    source = {"type": "file", "path": "fleet/a.json"}
    repo.write("targets/production.yaml", inventory([{"name": "a", "source": source}]))
    repo.commit("v1")
    run = reconciler(
        "--repo", repo.root, "daemon", "--env", "production", "--listen", "999.1.1.1:80"
    )
    lines = run.err.strip().splitlines()
    assert run.code == 1 and len(lines) == 1 and "--listen 999.1.1.1:80" in lines[0], run.err
    assert "Traceback" not in run.err and "gaierror" not in run.err


def test_a_remote_that_does_not_exist_keeps_the_daemon_up_and_unready(tmp_path: Path) -> None:
    user = tmp_path / "user"
    subprocess.run(["git", "init", "-q", "-b", "main", str(user)], check=True)
    missing = tmp_path / "no-such-remote.git"
    subprocess.run(["git", "-C", str(user), "remote", "add", "origin", str(missing)], check=True)
    daemon = DaemonProcess(user, "--interval", "0.2s")
    try:
        failed = daemon.wait_for_lines(lambda r: r.get("event") == "step_failed", 3, timeout=20)
        assert "no desired state yet: git clone" in failed[0]["error"]
        assert "traceback" not in failed[0], "its own error: no traceback needed"
        assert daemon.proc.poll() is None, "still running"
        assert daemon.get("/readyz")[0] == 503
        assert daemon.get("/healthz")[0] == 200
    finally:
        daemon.kill()


def test_a_remote_with_only_master_is_tracked_by_its_default_branch(tmp_path: Path) -> None:
    remote = Remote(tmp_path)
    subprocess.run(
        ["git", "-C", str(remote.origin), "symbolic-ref", "HEAD", "refs/heads/master"], check=True
    )
    author = remote.author
    author.bundle()
    source = {"type": "file", "path": "fleet/a/{bundle}.json"}
    author.write("targets/production.yaml", inventory([{"name": "a", "source": source}]))
    author.write(".gitignore", "fleet/\n")
    sha = author.commit("v1")
    author.git("push", "-q", "origin", "HEAD:master")
    user = remote.clone_user()
    (user / "fleet" / "a").mkdir(parents=True)
    daemon = DaemonProcess(user, "--interval", "0.2s")
    try:
        status = daemon.wait_until(lambda s: True, what="the first audit")
        assert status["desired"]["revision"] == sha
        started = next(r for r in daemon.lines if r["event"] == "started")
        assert started["tracking"] == "origin/HEAD (the remote's default)"
    finally:
        daemon.kill()


def test_a_branch_the_remote_lacks_is_named_on_every_step(tmp_path: Path) -> None:
    remote = Remote(tmp_path)
    subprocess.run(
        ["git", "-C", str(remote.origin), "symbolic-ref", "HEAD", "refs/heads/master"], check=True
    )
    author = remote.author
    author.bundle()
    source = {"type": "file", "path": "fleet/a/{bundle}.json"}
    author.write("targets/production.yaml", inventory([{"name": "a", "source": source}]))
    author.commit("v1")
    author.git("push", "-q", "origin", "HEAD:master")
    user = remote.clone_user()
    daemon = DaemonProcess(user, "--interval", "0.2s", "--branch", "main")
    try:
        failed = daemon.wait_for_lines(lambda r: r["event"] == "step_failed", 2, timeout=20)
        code, body = daemon.get("/readyz")
    finally:
        daemon.kill()
    for record in failed:
        assert "the remote has no branch 'main' (it has: master)" in record["error"], record
        assert "no such environment" not in record["error"]
    assert code == 503, body
