"""Prometheus answers a gate cannot use (issue "Hardening, round 3"): a matrix or a string never
gives a number per series, so the gate fails whatever ``on_missing`` says (the real
Prometheus evaluates the queries); an answer over the cap says it is too large, not that
Prometheus is unreachable."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from reconciler.gates.prometheus import MAX_ANSWER, judge
from tests.gates.test_analysis_prometheus import gate, measure
from tests.servers.prometheus import Prometheus


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
    reading = judge(gate(query, max=0.02, on_missing=on_missing), measure(prometheus.url, query))
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
