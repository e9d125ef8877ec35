"""A canary's samples read from the session's real Prometheus (design §12.1): each metric's range
queries with ``{bundle}``, ``{environment}`` and ``{interval}`` substituted, from a start time to
now at the judge's interval, split by digest (canary against stable; other digests left out) and
by the ``by`` label, into the judge's counts and per-interval values."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from reconciler.canary.judge import Counts, Rule, judge
from reconciler.gates.canary_samples import read_samples
from reconciler.gates.prometheus import QueryFailed
from reconciler.model.canary import CanaryJudge
from reconciler.model.gates import PrometheusSpec
from tests.servers.exporter import Exporter
from tests.servers.process import free_port
from tests.servers.prometheus import Prometheus

CANARY, STABLE, OTHER = ("sha256:" + c * 64 for c in "abc")
SERIES = '{run="{bundle}", env="{environment}"}'


def by_digest(metric: str) -> str:
    return f"sum by (digest, segment) (max_over_time({metric}{SERIES}[{{interval}}]))"


def spec(by: str | None = "segment", **metric: str) -> CanaryJudge:
    metrics = [
        {
            "name": "refusal-rate",
            "test": "proportion",
            "numerator": by_digest("canary_test_refusals"),
            "denominator": by_digest("canary_test_requests"),
        },
        {"name": "latency", "test": "mann-whitney", "query": by_digest("canary_test_latency")},
    ]
    metrics[0].update(metric)
    data = {"by": by, "interval": "2s", "min_samples": 10, "metrics": metrics}
    return CanaryJudge.model_validate(data)


def read(url: str, judge_spec: CanaryJudge, run: str, back: float = 4.0) -> dict:
    """The samples of the last ``back`` seconds: points at now - back, ..., now (step 2 s)."""
    end = time.time()
    return asyncio.run(
        read_samples(
            PrometheusSpec(url=url, timeout=3.0),
            {},
            judge_spec,
            bundle=run,
            environment="production",
            canary=CANARY,
            stable=STABLE,
            start=end - back,
            end=end,
        )
    )


@pytest.fixture(scope="module")
def run(exporter: Exporter, prometheus: Prometheus) -> str:
    """Series of this module's own (requests and refusals per digest and segment, latency),
    once Prometheus holds 6 s of them: every point of a 4 s range has its 2 s window."""
    run = uuid.uuid4().hex[:12]
    counts = {
        (CANARY, "en"): (1000, 80),
        (CANARY, "es"): (1000, 140),
        (STABLE, "en"): (9000, 720),
        (STABLE, "es"): (9000, 720),
        (OTHER, "en"): (5, 5),  # a third digest (a rollback's, say): never judged
    }
    for (digest, segment), (requests, refusals) in counts.items():
        labels = {"run": run, "env": "production", "digest": digest, "segment": segment}
        exporter.set("canary_test_requests", labels, requests)
        exporter.set("canary_test_refusals", labels, refusals)
        exporter.set("canary_test_latency", labels, 1.0 if digest == CANARY else 0.5)
    for metric in ("canary_test_requests", "canary_test_refusals", "canary_test_latency"):
        held = f'count(count_over_time({metric}{{run="{run}"}}[6s]) >= 6) == 5'
        prometheus.wait_for(held, timeout=20)
    return run


def test_counts_and_values_split_by_digest_and_segment(
    prometheus: Prometheus, exporter: Exporter, run: str
) -> None:
    labels = {"run": run, "env": "production", "digest": CANARY, "segment": "en"}
    exporter.set("canary_test_latency", labels, 2.0)  # the canary's en latency rises
    prometheus.wait_for_value(
        f'max(canary_test_latency{{run="{run}", segment="en", digest="{CANARY}"}})', 2.0
    )
    samples = read(prometheus.url, spec(), run)

    refusals = samples["refusal-rate"]
    assert sorted(refusals) == ["en", "es"]
    points = 3  # now - 4 s, now - 2 s, now
    assert refusals["en"].canary == Counts(80 * points, 1000 * points)
    assert refusals["es"].canary == Counts(140 * points, 1000 * points)
    assert refusals["es"].stable == Counts(720 * points, 9000 * points)  # the other digest: out
    assert (refusals["es"].canary.value, refusals["es"].stable.value) == (0.14, 0.08)

    latency = samples["latency"]
    assert set(latency["es"].stable.values) == {0.5}
    assert len(latency["es"].stable.values) == points
    assert latency["en"].canary.values[-1] == 2.0  # the last window holds the rise
    assert set(latency["en"].canary.values) <= {1.0, 2.0}
    assert latency["en"].stable.values == (0.5, 0.5, 0.5)


def test_without_by_every_segment_is_one(prometheus: Prometheus, run: str) -> None:
    whole = spec(
        by=None,
        numerator=by_digest("canary_test_refusals").replace("digest, segment", "digest"),
        denominator=by_digest("canary_test_requests").replace("digest, segment", "digest"),
    )
    whole = whole.model_copy(update={"metrics": whole.metrics[:1]})
    samples = read(prometheus.url, whole, run)
    (segment,) = samples["refusal-rate"]
    pair = samples["refusal-rate"][segment]
    assert segment == "*"
    assert pair.canary.value == pytest.approx(0.11)  # (80 + 140) / 2000
    assert pair.stable.value == pytest.approx(0.08)


def test_the_samples_feed_the_judge(prometheus: Prometheus, run: str) -> None:
    samples = read(prometheus.url, spec(), run)
    refusals = samples["refusal-rate"]
    rule = Rule("refusal-rate", "proportion", tolerance=0.05)
    verdict = judge([rule], {"refusal-rate": refusals}, alpha=0.05, steps=4, min_samples=10)
    assert verdict.decision == "abort"
    assert [(c.segment, c.status) for c in verdict.cells] == [("en", "pass"), ("es", "fail")]


def test_a_query_prometheus_refuses_and_one_without_a_digest(
    prometheus: Prometheus, run: str
) -> None:
    bad = spec(numerator="sum by (digest, segment) (rate(canary_test_refusals[{interval}])")
    with pytest.raises(QueryFailed) as refused:
        read(prometheus.url, bad, run)
    assert refused.value.refused and "bad_data" in str(refused.value)

    digestless = spec()
    digestless.metrics[0].numerator = 'sum by (segment) (canary_test_refusals{run="{bundle}"})'
    with pytest.raises(QueryFailed, match="no 'digest' label"):
        read(prometheus.url, digestless, run)


def test_prometheus_down_is_a_reason_not_a_traceback() -> None:
    with pytest.raises(QueryFailed, match="Prometheus unreachable"):
        read(f"http://127.0.0.1:{free_port()}", spec(), "nothing")
