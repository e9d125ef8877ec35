"""``rollout.canary`` (design §12.1) checked by the real ``validate``: every bad setting is one
line naming targets/production.yaml and exit 1, never a traceback; a good one validates."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.support.cli import reconciler, validate_errors
from tests.support.configrepo import ConfigRepo, inventory

REFUSALS = 'sum by (digest, segment) (increase(agent_refusals_total{bundle="{bundle}"}[1m]))'
REQUESTS = 'sum by (digest, segment) (increase(agent_requests_total{bundle="{bundle}"}[1m]))'
TARGETS = [
    {"name": "web", "source": {"type": "http", "url": "http://127.0.0.1:9/{bundle}.json"}},
    {
        "name": "flags",
        "kind": "flag-platform",
        "source": {
            "type": "unleash",
            "url": "http://127.0.0.1:9",
            "environment": "production",
            "token": "t",
        },
    },
]
GOOD: dict[str, Any] = {
    "release_flag": {"target": "flags", "name": "{bundle}.release"},
    "steps": ["1%", "5%", "25%"],
    "bake": "10m",
    "judge": {
        "by": "segment",
        "alpha": 0.05,
        "min_samples": 50,
        "metrics": [
            {
                "name": "refusal-rate",
                "test": "proportion",
                "numerator": REFUSALS,
                "denominator": REQUESTS,
                "tolerance": "5%",
            }
        ],
    },
}
PROMETHEUS = {"prometheus": {"url": "http://127.0.0.1:9090"}}


@pytest.fixture
def repo(tmp_path: Any) -> ConfigRepo:
    repo = ConfigRepo(tmp_path / "config")
    repo.bundle()
    repo.commit("v1")
    return repo


def _canary(change: str) -> dict[str, Any]:
    spec = copy.deepcopy(GOOD)
    metric = spec["judge"]["metrics"][0]
    if change == "step-above-100":
        spec["steps"] = ["5%", "150%"]
    elif change == "steps-not-increasing":
        spec["steps"] = ["5%", "5%", "25%"]
    elif change == "flag-not-unleash":
        spec["release_flag"]["target"] = "web"
    elif change == "flag-target-unknown":
        spec["release_flag"]["target"] = "nowhere"
    elif change == "query-without-digest":
        metric["numerator"] = "sum by (segment) (increase(agent_refusals_total[1m]))"
    elif change == "proportion-without-denominator":
        del metric["denominator"]
    elif change == "mann-whitney-without-query":
        spec["judge"]["metrics"][0] = {"name": "latency", "test": "mann-whitney"}
    elif change == "alpha-1":
        spec["judge"]["alpha"] = 1
    elif change == "alpha-0":
        spec["judge"]["alpha"] = 0.0
    elif change == "min_samples-9":
        spec["judge"]["min_samples"] = 9
    return spec


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ("step-above-100", "above 100%"),
        ("steps-not-increasing", "steps must increase"),
        (
            "flag-not-unleash",
            "release_flag.target: 'web' is a target of type http: the release flag must live on an"
            " unleash target",
        ),
        (
            "flag-target-unknown",
            "release_flag.target: 'nowhere' is no target: the release flag must live on an"
            " unleash target",
        ),
        ("query-without-digest", "must keep the digest"),
        ("proportion-without-denominator", "needs both numerator and denominator"),
        ("mann-whitney-without-query", "mann-whitney needs a query"),
        ("alpha-1", "alpha must be between 0 and 1"),
        ("alpha-0", "alpha must be between 0 and 1"),
        ("min_samples-9", "min_samples must be at least 10"),
    ],
)
def test_validate_refuses_a_bad_canary_in_one_line(
    repo: ConfigRepo, change: str, needle: str
) -> None:
    rollout = {"canary": _canary(change)}
    repo.write("targets/production.yaml", inventory(TARGETS, rollout=rollout, analysis=PROMETHEUS))
    errors = validate_errors(repo.root)
    assert any(needle in line for line in errors), errors


def test_a_canary_needs_prometheus(repo: ConfigRepo) -> None:
    repo.write("targets/production.yaml", inventory(TARGETS, rollout={"canary": GOOD}))
    run = reconciler("--repo", repo.root, "validate")
    assert run.code == 1 and "Traceback" not in run.err
    assert "rollout.canary needs a provider: analysis.prometheus.url" in run.err


def test_a_good_canary_validates(repo: ConfigRepo) -> None:
    text = inventory(TARGETS, rollout={"canary": GOOD}, analysis=PROMETHEUS)
    repo.write("targets/production.yaml", text)
    run = reconciler("--repo", repo.root, "validate")
    assert run.code == 0, run.out + run.err


def test_plan_says_a_change_goes_out_as_a_canary_and_with_which_steps(repo: ConfigRepo) -> None:
    text = inventory(TARGETS, rollout={"canary": GOOD}, analysis=PROMETHEUS)
    repo.write("targets/production.yaml", text)
    repo.commit("canary")
    run = reconciler("--repo", repo.root, "plan", "--env", "production", "--format", "json")
    assert "Traceback" not in run.err
    found = [f for f in run.json()["findings"] if f["code"] == "canary"]
    assert len(found) == 1 and found[0]["level"] == "info", run.out
    message = found[0]["message"]
    assert "flags/support-agent.release: 1% → 5% → 25% of users" in message
    assert "baked 10m" in message and "refusal-rate by segment" in message
