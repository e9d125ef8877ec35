"""Metric analysis gates (issue 13, item 1) against the session's real Prometheus, which scrapes
an exporter whose gauges each test sets: the verdicts come from real PromQL evaluation.

Cases: the gate passes, fails, has no data (fail, wait, pass), Prometheus is down (a closed
port), and a query Prometheus refuses; then ``converge`` end to end, paused at the canary with
AnalysisFailed naming the query, the value and the threshold.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest

from reconciler.gates.prometheus import Measured, measure_all, metric_reading
from reconciler.model.gates import AnalysisGate, PrometheusSpec
from tests.servers.exporter import Exporter
from tests.servers.process import free_port
from tests.servers.prometheus import Prometheus
from tests.support.agentrepo import AgentRepo, file_target
from tests.support.cli import reconciler

METRIC = "agent_output_parse_errors_ratio"


def gate(query: str, **extra: Any) -> AnalysisGate:
    return AnalysisGate.model_validate({"name": "parse-errors", "query": query, **extra})


def measure(url: str, query: str) -> Measured:
    spec = PrometheusSpec(url=url, timeout=3.0)
    return asyncio.run(measure_all(spec, {}, [query]))[query]


@pytest.fixture
def run_id(exporter: Exporter) -> str:
    """A label value of this test's own, so tests never see each other's series."""
    return uuid.uuid4().hex[:12]


def series(run_id: str, target: str) -> str:
    return f'max({METRIC}{{run="{run_id}", target="{target}"}})'


def test_a_value_within_max_passes_and_above_it_fails(
    prometheus: Prometheus, exporter: Exporter, run_id: str
) -> None:
    query = series(run_id, "canary")
    exporter.set(METRIC, {"run": run_id, "target": "canary"}, 0.01)
    prometheus.wait_for_value(query, 0.01)
    passed = metric_reading(gate(query, max=0.02), measure(prometheus.url, query))
    assert (passed.verdict, passed.message) == ("pass", f"`{query}` = 0.01 (max 0.02)")

    exporter.set(METRIC, {"run": run_id, "target": "canary"}, 0.05)
    prometheus.wait_for_value(query, 0.05)
    failed = metric_reading(gate(query, max=0.02), measure(prometheus.url, query))
    assert (failed.verdict, failed.message) == ("fail", f"`{query}` = 0.05, above max 0.02")
    low = metric_reading(gate(query, min=0.1), measure(prometheus.url, query))
    assert (low.verdict, low.message) == ("fail", f"`{query}` = 0.05, below min 0.1")


def test_every_series_counts_the_worst_one_is_compared(
    prometheus: Prometheus, exporter: Exporter, run_id: str
) -> None:
    for pod, value in (("a", 0.01), ("b", 0.03)):
        exporter.set(METRIC, {"run": run_id, "pod": pod}, value)
    query = f'{METRIC}{{run="{run_id}"}}'
    prometheus.wait_for(query, lambda result: len(result) == 2)
    failed = metric_reading(gate(query, max=0.02), measure(prometheus.url, query))
    assert failed.verdict == "fail" and "= 0.03, above max 0.02" in failed.message


@pytest.mark.parametrize(
    ("on_missing", "verdict"), [("fail", "fail"), ("wait", "wait"), ("pass", "pass")]
)
def test_no_data_is_the_gates_on_missing_and_fails_closed_by_default(
    prometheus: Prometheus, run_id: str, on_missing: str, verdict: str
) -> None:
    query = series(run_id, "nobody")
    seen = measure(prometheus.url, query)
    assert seen.error is None and seen.values == ()  # Prometheus answered: nothing matches
    reading = metric_reading(gate(query, max=0.02, on_missing=on_missing), seen)
    assert reading.verdict == verdict
    assert reading.message == f"`{query}`: no data (on_missing: {on_missing})"
    assert metric_reading(gate(query, max=0.02), seen).verdict == "fail"  # the default


def test_prometheus_down_is_missing_data_with_its_reason() -> None:
    query = series("any", "canary")
    seen = measure(f"http://127.0.0.1:{free_port()}", query)
    reading = metric_reading(gate(query, max=0.02), seen)
    assert reading.verdict == "fail"
    assert reading.message == (
        f"`{query}`: Prometheus unreachable (connection refused) (on_missing: fail)"
    )
    assert metric_reading(gate(query, max=0.02, on_missing="wait"), seen).verdict == "wait"


def test_a_query_prometheus_refuses_fails_whatever_on_missing_says(prometheus: Prometheus) -> None:
    query = "max(agent_output_parse_errors_ratio{"
    reading = metric_reading(
        gate(query, max=0.02, on_missing="pass"), measure(prometheus.url, query)
    )
    assert reading.verdict == "fail"
    assert "Prometheus refused the query (bad_data" in reading.message


# --- converge, end to end -----------------------------------------------------------------------


def gated_repo(tmp_path: Any, prometheus_url: str, query: str, **gate_extra: Any) -> AgentRepo:
    repo = AgentRepo(tmp_path / "config")
    repo.agent()
    names = ("canary", "eu", "us")
    repo.targets(
        [file_target(name) for name in names],
        analysis={"prometheus": {"url": prometheus_url}},
        rollout={
            "waves": [
                {"name": "canary", "targets": ["canary"], "bake": "1s"},
                {"name": "rest", "targets": ["*"]},
            ],
            "progress_deadline": "10m",
            "analysis": [{"name": "parse-errors", "query": query, "max": 0.02, **gate_extra}],
        },
    )
    repo.commit("v1")
    for name in names:
        repo.place(name)
    repo.agent(version="2025-08-07")
    repo.commit("v2: model version only")
    return repo


def converge(repo: AgentRepo, *extra: str) -> Any:
    return reconciler("--repo", repo.root, "converge", "--env", "production", *extra, timeout=90)


def status(repo: AgentRepo) -> dict[str, Any]:
    run = reconciler(
        "--repo", repo.root, "rollout", "status", "--env", "production", "--format", "json"
    )
    return dict(json.loads(run.out)["support-agent"])


def test_converge_pauses_at_the_canary_when_its_metric_fails(
    tmp_path: Any, prometheus: Prometheus, exporter: Exporter, run_id: str
) -> None:
    template = f'max({METRIC}{{run="{run_id}", target="{{target}}"}})'
    exporter.set(METRIC, {"run": run_id, "target": "canary"}, 0.05)
    prometheus.wait_for_value(series(run_id, "canary"), 0.05)
    repo = gated_repo(tmp_path, prometheus.url, template)
    run = converge(repo)
    assert run.code == 2, run.out + run.err
    assert "apply support-agent -> canary" in run.out
    assert "-> eu" not in run.out and "-> us" not in run.out
    reason = (
        f"analysis/parse-errors failed on canary: `{series(run_id, 'canary')}` = 0.05, "
        "above max 0.02"
    )
    assert f"AnalysisFailed: paused by reconciler: {reason}" in run.out
    assert (repo.runs_version("canary"), repo.runs_version("eu")) == ("2025-08-07", "2025-04-14")
    found = status(repo)
    assert found["phase"] == "paused"
    ready = next(c for c in found["conditions"] if c["type"] == "Ready")
    assert (ready["reason"], ready["message"]) == (
        "AnalysisFailed",
        f"paused by reconciler: {reason}",
    )


def test_converge_completes_when_every_wave_passes_its_gate(
    tmp_path: Any, prometheus: Prometheus, exporter: Exporter, run_id: str
) -> None:
    template = f'max({METRIC}{{run="{run_id}", target="{{target}}"}})'
    for name in ("canary", "eu", "us"):
        exporter.set(METRIC, {"run": run_id, "target": name}, 0.01)
    prometheus.wait_for(f'{METRIC}{{run="{run_id}"}}', lambda result: len(result) == 3)
    repo = gated_repo(tmp_path, prometheus.url, template, **{"for": "2s"})
    run = converge(repo)
    assert run.code == 0, run.out + run.err
    assert {repo.runs_version(n) for n in ("canary", "eu", "us")} == {"2025-08-07"}


def test_converge_fails_closed_when_prometheus_is_down(tmp_path: Any) -> None:
    repo = gated_repo(tmp_path, f"http://127.0.0.1:{free_port()}", f"max({METRIC})")
    run = converge(repo)
    assert run.code == 2, run.out + run.err
    assert "AnalysisFailed" in run.out
    assert "Prometheus unreachable (connection refused) (on_missing: fail)" in run.out
    assert repo.runs_version("eu") == "2025-04-14"


def test_a_gate_waiting_for_data_holds_the_canary_and_says_why(
    tmp_path: Any, prometheus: Prometheus, run_id: str
) -> None:
    template = f'max({METRIC}{{run="{run_id}", target="{{target}}"}})'
    repo = gated_repo(tmp_path, prometheus.url, template, on_missing="wait")
    run = converge(repo, "--timeout", "4s")
    assert run.code == 2 and "not complete within 4s" in run.err
    assert repo.runs_version("eu") == "2025-04-14"
    ready = next(c for c in status(repo)["conditions"] if c["type"] == "Ready")
    assert ready["reason"] == "Baking"
    assert "gates: canary: analysis/parse-errors: " in ready["message"]
    assert "no data (on_missing: wait)" in ready["message"]


def test_on_fail_rollback_puts_the_canary_back_and_quarantines_the_digest(
    tmp_path: Any, prometheus: Prometheus, exporter: Exporter, run_id: str
) -> None:
    template = f'max({METRIC}{{run="{run_id}", target="{{target}}"}})'
    exporter.set(METRIC, {"run": run_id, "target": "canary"}, 0.05)
    prometheus.wait_for_value(series(run_id, "canary"), 0.05)
    repo = gated_repo(tmp_path, prometheus.url, template, on_fail="rollback")
    run = converge(repo)
    assert run.code == 2, run.out + run.err
    assert "revert support-agent -> canary" in run.out
    assert repo.runs_version("canary") == "2025-04-14"  # back on what it ran before
    assert "ABORTED (RolledBack)" in run.out
    audit = reconciler("--repo", repo.root, "audit", "--env", "production")
    assert "rolled back to" in audit.out and "by reconciler (on_fail: rollback)" in audit.out
    again = converge(repo)
    assert again.code == 2 and "QUARANTINED" in again.out  # never applied again by itself
