"""The real daemon's HTTP surface under hostile clients, as the campaign ran them (issue
"Hardening, round 3"): 40 clients trickling their headers cannot blind ``/healthz``; clients
that hang up mid-request or mid-answer are one JSON log line each, never a traceback;
``/status/<an environment it does not watch>`` is 404."""

from __future__ import annotations

import socket
import struct
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.daemon.support import DaemonProcess, one_file_target


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[DaemonProcess]:
    repo = one_file_target(tmp_path / "config")
    running = DaemonProcess(repo.root, "--interval", "5s")
    running.wait_until(lambda s: True, what="the first audit")
    yield running
    running.terminate()


def _trickle(port: int, stop: threading.Event) -> None:
    """One slowloris client: a header byte every 0.3 s, reconnecting whenever it is cut off."""
    while not stop.is_set():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
                sock.sendall(b"GET /status HTTP/1.1\r\nHost: x\r\n")
                while not stop.wait(0.3):
                    sock.sendall(b"X-a: b\r\n")
        except OSError:
            stop.wait(0.05)


def test_forty_trickling_clients_cannot_blind_healthz(daemon: DaemonProcess) -> None:
    port = int(daemon.url.rsplit(":", 1)[1])
    stop = threading.Event()
    clients = [threading.Thread(target=_trickle, args=(port, stop)) for _ in range(40)]
    for client in clients:
        client.start()
    answered = probes = 0
    try:
        time.sleep(0.5)  # every client connected and trickling
        deadline = time.monotonic() + 5.0  # past the header deadline: they reconnect too
        while time.monotonic() < deadline:
            probes += 1
            try:
                with urllib.request.urlopen(daemon.url + "/healthz", timeout=1) as response:
                    answered += response.status == 200
            except OSError:
                pass
            time.sleep(0.05)
    finally:
        stop.set()
        for client in clients:
            client.join(5)
    assert answered >= 0.95 * probes, f"{answered} of {probes} probes answered within 1 s"


def test_clients_hanging_up_are_one_json_line_each_never_a_traceback(
    daemon: DaemonProcess,
) -> None:
    port = int(daemon.url.rsplit(":", 1)[1])

    def rude(i: int) -> None:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            # Hang up with a reset (SO_LINGER 0): mid-request, or right after asking.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n" + (b"\r\n" if i % 2 else b""))

    threads = [threading.Thread(target=rude, args=(i,)) for i in range(200)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    code, _ = daemon.get("/healthz")
    assert code == 200
    time.sleep(0.5)  # the server's threads log what they saw
    raw = [r for r in daemon.lines if r.get("event") == "raw"]
    assert not raw, raw[:10]
    assert "Traceback" not in str(daemon.lines)


def test_status_of_an_environment_not_watched_is_404(daemon: DaemonProcess) -> None:
    code, body = daemon.get("/status/nope")
    assert code == 404, body
    code, _ = daemon.get("/status/production")
    assert code == 200
