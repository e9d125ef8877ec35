"""Prometheus answers a gate cannot use (issue "Hardening, round 3"): a matrix or a string never
gives a number per series, so the gate fails whatever ``on_missing`` says (the real
Prometheus evaluates the queries); an answer over the cap says it is too large, not that
Prometheus is unreachable."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from reconciler.gates.prometheus import MAX_ANSWER, metric_reading
from tests.gates.test_analysis_prometheus import gate, measure
from tests.servers.prometheus import Prometheus
from tests.support.agentrepo import AgentRepo, file_target
from tests.support.cli import reconciler


@pytest.mark.parametrize(
    ("query", "kind"),
    [
        ('agent_output_parse_errors_ratio{run="none"}[5m]', "matrix"),
        ('"a string"', "string"),
    ],
)
@pytest.mark.parametrize("on_missing", ["pass", "wait", "fail"])
def test_a_result_that_is_not_a_number_per_series_fails_the_gate(
    prometheus: Prometheus, query: str, kind: str, on_missing: str
) -> None:
    reading = metric_reading(
        gate(query, max=0.02, on_missing=on_missing), measure(prometheus.url, query)
    )
    assert reading.verdict == "fail", reading.message
    assert f"gives a {kind}, not a number per series" in reading.message


@pytest.fixture
def huge() -> Iterator[str]:
    body = b'{"status":"success","data":{"resultType":"vector","result":[' + b" " * MAX_ANSWER

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()  # no length: the cap is found while reading
            with contextlib.suppress(OSError):  # the reconciler hangs up at the cap
                self.wfile.write(body + b"]}}")

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_an_answer_over_the_cap_is_too_large_not_unreachable(huge: str) -> None:
    seen = measure(huge, "up")
    assert seen.error is not None
    assert "too large" in str(seen.error) and "unreachable" not in str(seen.error)


def test_converge_timeout_bounds_a_prometheus_that_never_answers(tmp_path: Path) -> None:
    """A hung Prometheus kept ``converge --timeout 15s`` running past 60 s (3 tries x its
    query timeout, inside one step)."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)  # the kernel accepts; nobody ever answers
    url = f"http://127.0.0.1:{silent.getsockname()[1]}"
    repo = AgentRepo(tmp_path / "config")
    repo.agent()
    names = ("canary", "eu")
    repo.targets(
        [file_target(name) for name in names],
        analysis={"prometheus": {"url": url, "timeout": "1m"}},
        rollout={
            "waves": [
                {"name": "canary", "targets": ["canary"], "bake": "1s"},
                {"name": "rest", "targets": ["*"]},
            ],
            "progress_deadline": "10m",
            "analysis": [{"name": "errors", "query": "max(up)", "max": 0.02}],
        },
    )
    repo.commit("v1")
    for name in names:
        repo.place(name)
    repo.agent(version="2025-08-07")
    repo.commit("v2")
    try:
        started = time.monotonic()
        run = reconciler(
            "--repo", repo.root, "converge", "--env", "production", "--timeout", "3s",
            timeout=90,
        )  # fmt: skip
        took = time.monotonic() - started
    finally:
        silent.close()
    assert run.code == 2, run.out + run.err
    assert took < 12, f"converge --timeout 3s took {took:.1f}s"
    assert repo.runs_version("eu") == "2025-04-14", "nothing past the canary"
