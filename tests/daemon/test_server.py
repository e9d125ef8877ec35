"""The daemon's HTTP surface over real HTTP on 127.0.0.1 and an OS-chosen port."""

from __future__ import annotations

import concurrent.futures
import http.client
import json
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from reconciler import secrets
from reconciler.daemon.metrics import Metrics
from reconciler.daemon.server import StatusServer, parse_listen


@dataclass
class Daemon:
    """What the server reads: switched by the tests as a daemon loop would."""

    metrics: Metrics = field(default_factory=lambda: Metrics("production"))
    status: dict[str, Any] | None = None
    alive: bool = True
    ready: bool = False
    broken: bool = False
    why: str = "the status callback broke"

    def read_status(self) -> dict[str, Any] | None:
        if self.broken:
            raise RuntimeError(self.why)
        return self.status


@pytest.fixture
def daemon() -> Daemon:
    return Daemon()


@pytest.fixture(scope="module")
def shared() -> Iterator[tuple[StatusServer, list[Daemon]]]:
    """One server for the module; it reads whichever Daemon the current test put in the box."""
    box = [Daemon()]
    with StatusServer(
        "127.0.0.1:0",
        metrics=lambda: box[0].metrics.render(),
        status=lambda: box[0].read_status(),
        alive=lambda: box[0].alive,
        ready=lambda: box[0].ready,
    ) as running:
        yield running, box


@pytest.fixture
def server(shared: tuple[StatusServer, list[Daemon]], daemon: Daemon) -> StatusServer:
    running, box = shared
    box[0] = daemon
    return running


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        assert self.headers["content-type"] == "application/json"
        return json.loads(self.body)


def request(server: StatusServer, path: str, method: str = "GET", body: bytes = b"") -> Answer:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        connection.request(method, path, body=body or None)
        response = connection.getresponse()
        headers = {k.lower(): v for k, v in response.getheaders()}
        return Answer(response.status, headers, response.read())
    finally:
        connection.close()


def test_binds_loopback_and_the_port_the_os_chose(server: StatusServer) -> None:
    assert server.host == "127.0.0.1"
    assert server.port > 0
    assert server.url == f"http://127.0.0.1:{server.port}"


def test_status_is_starting_until_the_first_audit(server: StatusServer, daemon: Daemon) -> None:
    answer = request(server, "/status")
    assert answer.status == 503
    assert answer.json() == {"status": "starting"}
    daemon.status = {"schema": "agent-reconciler.audit/v1", "environment": "production"}
    answer = request(server, "/status")
    assert answer.status == 200
    assert answer.json() == daemon.status


def test_healthz_follows_the_loop(server: StatusServer, daemon: Daemon) -> None:
    assert (request(server, "/healthz").status, request(server, "/healthz").body) == (200, b"ok\n")
    daemon.alive = False
    assert request(server, "/healthz").status == 503


def test_readyz_follows_readiness(server: StatusServer, daemon: Daemon) -> None:
    assert request(server, "/readyz").status == 503
    daemon.ready = True
    assert request(server, "/readyz").status == 200


def test_metrics_over_http_pass_promtool(
    server: StatusServer, daemon: Daemon, promtool: Path
) -> None:
    daemon.metrics.set_git_fetch_ok(True)
    answer = request(server, "/metrics")
    assert answer.status == 200
    assert answer.headers["content-type"].startswith("text/plain;")
    assert b'reconciler_git_fetch_ok{environment="production"} 1.0' in answer.body
    result = subprocess.run(
        [str(promtool), "check", "metrics"], input=answer.body, capture_output=True, timeout=30
    )
    assert result.returncode == 0, (result.stdout + result.stderr).decode()


@pytest.mark.parametrize("path", ["/", "/metrics/extra", "/status.json", "/../etc/passwd"])
def test_unknown_paths_are_404(server: StatusServer, path: str) -> None:
    assert request(server, path).status == 404


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "HEAD", "BREW"])
def test_methods_other_than_get_are_405(server: StatusServer, method: str) -> None:
    answer = request(server, "/status", method=method, body=b'{"x": 1}')
    assert answer.status == 405
    assert answer.headers["allow"] == "GET"


def test_a_query_string_is_ignored(server: StatusServer) -> None:
    assert request(server, "/healthz?verbose=1").status == 200


def test_a_broken_callback_is_a_500_and_the_server_lives_on(
    server: StatusServer, daemon: Daemon
) -> None:
    daemon.broken = True
    assert request(server, "/status").status == 500
    assert request(server, "/healthz").status == 200


def test_a_broken_callback_is_one_scrubbed_log_line(
    server: StatusServer, daemon: Daemon, capfd: pytest.CaptureFixture[str]
) -> None:
    secret = "sk-live-9f8e7d6c5b4a"
    secrets.remember(secret)
    try:
        daemon.broken, daemon.why = True, f"upstream said Bearer {secret}"
        assert request(server, "/status").status == 500
        lines = capfd.readouterr().err.splitlines()
    finally:
        secrets.forget_all()
    assert len(lines) == 1, lines  # no traceback
    record = json.loads(lines[0])
    assert record["event"] == "status_request_failed"
    assert record["path"] == "/status"
    assert record["error"] == "RuntimeError: upstream said Bearer ***"


def test_no_access_log_on_stderr(server: StatusServer, capfd: pytest.CaptureFixture[str]) -> None:
    request(server, "/healthz")
    request(server, "/nope")
    assert capfd.readouterr().err == ""


def test_stop_closes_the_port(daemon: Daemon) -> None:
    server = StatusServer(
        "127.0.0.1:0",
        metrics=daemon.metrics.render,
        status=daemon.read_status,
        alive=lambda: True,
        ready=lambda: True,
    ).start()
    port = server.port
    server.stop()
    assert server.port == port  # still the port it was bound to
    with pytest.raises(ConnectionRefusedError):
        http.client.HTTPConnection("127.0.0.1", port, timeout=2).connect()
    server.stop()  # a second stop is harmless


@pytest.mark.parametrize(
    ("listen", "expected"),
    [
        ("127.0.0.1:9464", ("127.0.0.1", 9464)),
        ("0.0.0.0:0", ("0.0.0.0", 0)),
        ("localhost:8080", ("localhost", 8080)),
        ("[::1]:9464", ("::1", 9464)),
    ],
)
def test_parse_listen(listen: str, expected: tuple[str, int]) -> None:
    assert parse_listen(listen) == expected


@pytest.mark.parametrize(
    ("listen", "problem"),
    [
        ("9464", "expected HOST:PORT"),
        (":9464", "expected HOST:PORT"),
        ("127.0.0.1:", "port must be a number"),
        ("127.0.0.1:http", "port must be a number"),
        ("127.0.0.1:70000", "port must be a number"),
        ("::1:9464", "IPv6 address in brackets"),
    ],
)
def test_bad_listen_strings_are_clear_value_errors(listen: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem) as caught:
        StatusServer(listen, metrics=lambda: (b"", ""), status=dict, alive=bool, ready=bool)
    assert repr(listen) in str(caught.value)


def test_a_slow_render_never_delays_the_probes(daemon: Daemon) -> None:
    """``/status`` and the page render in worker threads; ``/healthz`` is answered on the loop."""
    rendering, release = threading.Event(), threading.Event()

    def slow_status() -> dict[str, Any]:
        rendering.set()
        release.wait(10)
        return {"ok": True}

    with StatusServer(
        "127.0.0.1:0", metrics=daemon.metrics.render, status=slow_status, alive=bool, ready=bool
    ) as server:
        pending = concurrent.futures.ThreadPoolExecutor(1).submit(request, server, "/status")
        assert rendering.wait(5)
        started = time.monotonic()
        try:
            assert request(server, "/healthz").status == 503  # alive=bool(): False
            assert time.monotonic() - started < 1.0
            assert not pending.done(), "the render is still running"
        finally:
            release.set()
        assert pending.result(5).json() == {"ok": True}


def test_an_oversized_header_is_refused_in_one_log_line(
    server: StatusServer, capfd: pytest.CaptureFixture[str]
) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 10_000 + b"\r\n\r\n")
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.split(b"\r\n")[0].endswith(b" 400 Bad Request"), head
    assert b"X-Content-Type-Options: nosniff" in head and body == b"bad request\n"
    lines = capfd.readouterr().err.splitlines()
    assert [json.loads(line)["event"] for line in lines] == ["status_bad_request"], lines
    assert json.loads(lines[0])["error"] == "LineTooLong"
