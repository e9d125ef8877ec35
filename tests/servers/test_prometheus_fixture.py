"""The Prometheus fixtures work: a gauge the test sets on the session exporter is scraped by the
session Prometheus and answered by PromQL within a few seconds, and a changed value follows; a
Prometheus of a test's own stops and starts again."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest

from tests.servers.exporter import Exporter
from tests.servers.prometheus import Prometheus, running_prometheus

# the exporter is the session's: this test's series carry a label no other test sets
RUN = {"run": "fixture-smoke"}
QUERY = 'max(agent_output_parse_errors_ratio{run="fixture-smoke",target="canary"})'


def test_the_exporter_serves_the_prometheus_text_format(exporter: Exporter) -> None:
    exporter.set("smoke_gauge", {"path": 'a"b\\c'}, 1.5, help="a test gauge")
    with urllib.request.urlopen(exporter.url, timeout=5) as response:
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = response.read().decode()
    assert "# HELP smoke_gauge a test gauge\n# TYPE smoke_gauge gauge\n" in text
    assert 'smoke_gauge{path="a\\"b\\\\c"} 1.5\n' in text
    exporter.remove("smoke_gauge")
    assert "smoke_gauge" not in exporter.render()


def test_a_gauge_set_on_the_exporter_is_queried_from_prometheus(
    exporter: Exporter, prometheus: Prometheus
) -> None:
    exporter.set("agent_output_parse_errors_ratio", {**RUN, "target": "canary"}, 0.05)
    exporter.set("agent_output_parse_errors_ratio", {**RUN, "target": "stable"}, 0.9)

    result = prometheus.wait_for(QUERY, timeout=5)
    assert float(result[0]["value"][1]) == 0.05

    exporter.set("agent_output_parse_errors_ratio", {**RUN, "target": "canary"}, 0.2)
    assert prometheus.wait_for_value(QUERY, 0.2, timeout=5) == 0.2
    both = 'count(agent_output_parse_errors_ratio{job="test",run="fixture-smoke"})'
    assert prometheus.value(both) == 2.0


def test_a_prometheus_of_its_own_stops_and_starts_on_the_same_port() -> None:
    with running_prometheus([], wait=0) as own:
        assert own.query("vector(1)")[0]["value"][1] == "1"
        own.stop()
        with pytest.raises(urllib.error.URLError):
            own.query("vector(1)")
        own.start()
        assert own.query("vector(1)")[0]["value"][1] == "1"
