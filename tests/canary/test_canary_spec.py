"""The ``rollout.canary`` spec (design §12.1) validates with one-line errors: steps above 100% or
not increasing, a query without a digest grouping, a proportion without numerator and
denominator, mann-whitney without a query, alpha outside (0, 1), min_samples below 10."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from reconciler.config.validation import validate
from reconciler.errors import ConfigError
from reconciler.model.canary import CanarySpec

FILE = "targets/production.yaml"
COUNT = 'sum by (digest, segment) (increase(NAME{bundle="{bundle}"}[{interval}]))'
GOOD: dict[str, Any] = {
    "release_flag": {"target": "flags-production", "name": "{bundle}.release"},
    "stickiness": "userId",
    "steps": ["1%", "5%", "25%", "50%"],
    "bake": "30m",
    "judge": {
        "by": "segment",
        "alpha": 0.05,
        "min_samples": 50,
        "interval": "1m",
        "metrics": [
            {
                "name": "refusal-rate",
                "test": "proportion",
                "numerator": COUNT.replace("NAME", "agent_refusals_total"),
                "denominator": COUNT.replace("NAME", "agent_requests_total"),
                "worse": "higher",
                "tolerance": "5%",
                "critical": True,
            },
            {
                "name": "answer-latency",
                "test": "mann-whitney",
                "query": (
                    "histogram_quantile(0.9, sum by (le, digest, segment) "
                    '(rate(agent_latency_seconds_bucket{bundle="{bundle}"}[{interval}])))'
                ),
                "worse": "higher",
                "tolerance": "10%",
            },
        ],
    },
}


def test_the_design_sample_validates() -> None:
    spec = validate(CanarySpec, copy.deepcopy(GOOD), FILE)
    assert spec.steps == pytest.approx([0.01, 0.05, 0.25, 0.50])
    assert (spec.bake, spec.judge.interval, spec.judge.by) == (1800.0, 60.0, "segment")
    refusals, latency = spec.judge.metrics
    assert refusals.tolerance == pytest.approx(0.05) and refusals.critical
    assert latency.queries == (GOOD["judge"]["metrics"][1]["query"],)
    assert latency.critical  # critical unless said otherwise


def changed(path: str, value: Any) -> dict[str, Any]:
    data = copy.deepcopy(GOOD)
    *parents, last = path.split(".")
    node: Any = data
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    if value is None:
        del node[int(last) if last.isdigit() else last]
    else:
        node[int(last) if last.isdigit() else last] = value
    return data


BAD = [
    ("a step above 100%", changed("steps", ["5%", "150%"]), "step '150%' is above 100%"),
    ("steps not increasing", changed("steps", ["5%", "5%"]), "steps must increase: 5% after 5%"),
    ("steps going down", changed("steps", ["25%", "5%"]), "steps must increase: 5% after 25%"),
    (
        "a query without a digest grouping",
        changed("judge.metrics.1.query", "histogram_quantile(0.9, sum by (le, segment) (x))"),
        "metric 'answer-latency': query must keep the digest: aggregate with 'by (digest, ...)'",
    ),
    (
        "a numerator that sums the digest away",
        changed("judge.metrics.0.numerator", "sum(increase(agent_refusals_total[1m]))"),
        "metric 'refusal-rate': numerator must keep the digest",
    ),
    (
        "a query without the by label",
        changed("judge.metrics.1.query", "sum by (digest) (x)"),
        "metric 'answer-latency': a query must keep the label 'segment' (by: segment)",
    ),
    (
        "a proportion without a denominator",
        changed("judge.metrics.0.denominator", None),
        "metric 'refusal-rate': test: proportion needs both numerator and denominator",
    ),
    (
        "mann-whitney without a query",
        changed("judge.metrics.1.query", None),
        "metric 'answer-latency': test: mann-whitney needs a query",
    ),
    ("alpha of 0", changed("judge.alpha", 0), "alpha must be between 0 and 1 (exclusive), not 0"),
    ("alpha of 1", changed("judge.alpha", 1.0), "alpha must be between 0 and 1 (exclusive)"),
    ("min_samples below 10", changed("judge.min_samples", 9), "min_samples must be at least 10"),
    ("an unknown key", changed("judge.metrics.0.tolerence", "5%"), "unknown key"),
]


@pytest.mark.parametrize(("name", "data", "message"), BAD, ids=[b[0] for b in BAD])
def test_a_bad_spec_is_one_line_naming_the_file(
    name: str, data: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        validate(CanarySpec, data, FILE)
    text = str(caught.value)
    assert text.startswith(f"{FILE}: ") and "\n" not in text
    assert message in text


def test_the_spec_gives_the_judge_its_rules() -> None:
    from reconciler.canary.judge import Rule
    from reconciler.canary.rules import rules_of

    spec = validate(CanarySpec, copy.deepcopy(GOOD), FILE)
    assert rules_of(spec.judge) == [
        Rule("refusal-rate", "proportion", worse="higher", tolerance=0.05, critical=True),
        Rule("answer-latency", "mann-whitney", worse="higher", tolerance=0.10, critical=True),
    ]
