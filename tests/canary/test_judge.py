"""The canary judge (design §12.1) as a table: insufficient, pass, fail (p below the Holm level in
the worse direction AND beyond the tolerance), the decision (abort, hold, wait, pass), Holm's
step-down over metrics x segments at alpha / steps, and the Mann-Whitney test."""

from __future__ import annotations

import math

import pytest

from reconciler.canary.judge import (
    Counts,
    Pair,
    Rule,
    Series,
    holm,
    judge,
    mann_whitney_p,
    proportion_p,
    thin_cells,
)
from tests.canary.child import in_child

REFUSALS = Rule("refusal-rate", "proportion", worse="higher", tolerance=0.05, critical=True)
LATENCY = Rule("answer-latency", "mann-whitney", worse="higher", tolerance=0.10, critical=False)
SUCCESS = Rule("success-rate", "proportion", worse="lower", tolerance=0.0, critical=True)


def counts(canary: tuple[float, float], stable: tuple[float, float]) -> Pair:
    return Pair(Counts(*canary), Counts(*stable))


CASES = [
    # name, rule, pair, expected status
    ("a clear rise fails", REFUSALS, counts((140, 1000), (800, 10000)), "fail"),
    ("the same rates pass", REFUSALS, counts((80, 1000), (800, 10000)), "pass"),
    (
        "a fall is not worse when higher is worse",
        REFUSALS,
        counts((20, 1000), (800, 10000)),
        "pass",
    ),
    (
        "significant but within tolerance passes",
        REFUSALS,
        counts((8300, 100000), (80000, 1000000)),
        "pass",
    ),
    (
        "beyond tolerance but not significant passes",
        REFUSALS,
        counts((6, 60), (800, 10000)),
        "pass",
    ),
    (
        "too few on the canary side is insufficient",
        REFUSALS,
        counts((5, 49), (800, 10000)),
        "insufficient",
    ),
    (
        "too few on the stable side is insufficient",
        REFUSALS,
        counts((80, 1000), (3, 40)),
        "insufficient",
    ),
    ("a fall fails when lower is worse", SUCCESS, counts((850, 1000), (9500, 10000)), "fail"),
    ("a rise passes when lower is worse", SUCCESS, counts((990, 1000), (9500, 10000)), "pass"),
    ("no events on either side passes", REFUSALS, counts((0, 1000), (0, 10000)), "pass"),
]


@pytest.mark.parametrize(("name", "rule", "pair", "status"), CASES, ids=[c[0] for c in CASES])
def test_one_cell(name: str, rule: Rule, pair: Pair, status: str) -> None:
    verdict = judge([rule], {rule.name: {"es": pair}}, alpha=0.05, steps=4, min_samples=50)
    (cell,) = verdict.cells
    assert cell.status == status, cell.describe()
    assert (cell.metric, cell.segment, cell.critical) == (rule.name, "es", rule.critical)
    assert cell.canary_n == pair.canary.size and cell.stable_n == pair.stable.size


def test_a_failing_cell_says_both_values_the_difference_and_p() -> None:
    pair = counts((140, 1000), (800, 10000))
    verdict = judge([REFUSALS], {REFUSALS.name: {"es": pair}}, alpha=0.05, steps=4, min_samples=50)
    (cell,) = verdict.cells
    assert (cell.canary, cell.stable) == (0.14, 0.08)
    assert cell.difference == pytest.approx(0.75)
    z = (0.14 - 0.08) / math.sqrt(0.0855 * 0.9145 * (1 / 1000 + 1 / 10000))
    assert cell.p == pytest.approx(0.5 * math.erfc(z / math.sqrt(2)))
    assert cell.level == pytest.approx(0.05 / 4)
    assert verdict.decision == "abort"
    assert verdict.reason == (
        f"refusal-rate [es]: fail: canary 0.14 vs stable 0.08 (+75.0%), p={cell.p:.2g} "
        "(level 0.0125)"
    )


DECISIONS = [
    ("every cell passes", {"es": (80, 1000)}, {"es": [1.0] * 20}, "pass"),
    ("a critical metric fails: abort", {"es": (140, 1000)}, {"es": [1.0] * 20}, "abort"),
    ("only a non-critical one fails: hold", {"es": (80, 1000)}, {"es": [2.0] * 20}, "hold"),
    ("a thin segment: wait, even with a failure", {"es": (140, 1000), "de": (1, 9)}, {}, "wait"),
]


@in_child
@pytest.mark.parametrize(
    ("name", "refusals", "latency", "decision"), DECISIONS, ids=[d[0] for d in DECISIONS]
)
def test_the_step_decision(
    name: str,
    refusals: dict[str, tuple[float, float]],
    latency: dict[str, list[float]],
    decision: str,
) -> None:
    samples = {
        REFUSALS.name: {seg: counts(c, (800, 10000)) for seg, c in refusals.items()},
        LATENCY.name: {
            seg: Pair(
                Series(tuple(v + 0.01 * i for i, v in enumerate(values))),
                Series(tuple(1.0 + 0.01 * i for i in range(20))),
            )
            for seg, values in latency.items()
        },
    }
    if not latency:
        samples[LATENCY.name] = {"es": Pair(Series((1.0,) * 20), Series((1.0,) * 20))}
    verdict = judge([REFUSALS, LATENCY], samples, alpha=0.05, steps=4, min_samples=10)
    assert verdict.decision == decision


def test_waiting_names_the_thin_segments() -> None:
    samples = {
        REFUSALS.name: {
            "en": counts((80, 1000), (800, 10000)),
            "de": counts((1, 9), (800, 10000)),
        }
    }
    verdict = judge([REFUSALS], samples, alpha=0.05, steps=4, min_samples=50)
    assert verdict.decision == "wait"
    assert [(c.metric, c.segment) for c in verdict.thin] == [("refusal-rate", "de")]
    assert (
        verdict.reason
        == "waiting for samples: refusal-rate [de]: too few samples (canary 9, stable 10000)"
    )
    assert thin_cells(samples, 50) == [("refusal-rate", "de")]


def test_a_metric_with_no_series_at_all_waits() -> None:
    verdict = judge([REFUSALS], {}, alpha=0.05, steps=4, min_samples=50)
    assert verdict.decision == "wait"
    assert [(c.metric, c.segment) for c in verdict.thin] == [("refusal-rate", "*")]


HOLM = [
    # p values, level, expected (held to, rejected) per p
    (
        "all rejected where Bonferroni keeps two",
        [0.004, 0.006, 0.012],
        0.0125,
        [(0.0125 / 3, True), (0.0125 / 2, True), (0.0125, True)],
    ),
    (
        "order given is kept",
        [0.012, 0.004, 0.006],
        0.0125,
        [(0.0125, True), (0.0125 / 3, True), (0.0125 / 2, True)],
    ),
    (
        "it stops at the first it cannot reject",
        [0.001, 0.007, 0.009],
        0.0125,
        [(0.0125 / 3, True), (0.0125 / 2, False), (0.0125, False)],
    ),
    ("nothing below the first level", [0.005, 0.5], 0.01, [(0.005, True), (0.01, False)]),
    ("no cells", [], 0.05, []),
]


@pytest.mark.parametrize(("name", "ps", "level", "expected"), HOLM, ids=[h[0] for h in HOLM])
def test_holm_step_down(name: str, ps: list[float], level: float, expected: list) -> None:
    found = holm(ps, level)
    assert [round(held, 12) for held, _ in found] == [round(h, 12) for h, _ in expected]
    assert [rejected for _, rejected in found] == [r for _, r in expected]


def test_the_step_level_is_alpha_over_steps_shared_by_holm_over_metrics_and_segments() -> None:
    """Two segments x two metrics at alpha 0.05 over 5 steps: the smallest p is held to 0.01/4."""
    rules = [Rule("a", "proportion"), Rule("b", "proportion")]
    pair = counts((80, 1000), (800, 10000))
    samples = {r.name: {"en": pair, "es": pair} for r in rules}
    verdict = judge(rules, samples, alpha=0.05, steps=5, min_samples=50)
    assert verdict.level == pytest.approx(0.01)
    assert sorted(c.level for c in verdict.cells) == pytest.approx([0.0025, 0.01 / 3, 0.005, 0.01])


def test_a_cell_holm_rejects_but_within_tolerance_passes_and_does_not_stop_the_others() -> None:
    rules = [Rule("small-shift", "proportion", tolerance=0.5), Rule("big-shift", "proportion")]
    samples = {
        "small-shift": {"all": counts((9000, 100000), (80000, 1000000))},  # +12.5%, p tiny
        "big-shift": {"all": counts((140, 1000), (800, 10000))},  # +75%, p ~1e-10
    }
    verdict = judge(rules, samples, alpha=0.05, steps=4, min_samples=50)
    status = {c.metric: c.status for c in verdict.cells}
    assert status == {"small-shift": "pass", "big-shift": "fail"}


def test_proportion_p_is_one_sided() -> None:
    worse, better = Counts(140, 1000), Counts(80, 1000)
    assert proportion_p(worse, better, "higher") < 0.001
    assert proportion_p(worse, better, "lower") > 0.999
    assert proportion_p(better, worse, "lower") < 0.001


@in_child
def test_mann_whitney_is_scipys_one_sided_test() -> None:
    from scipy.stats import mannwhitneyu

    canary = Series(tuple(1.0 + 0.02 * i for i in range(30)))
    stable = Series(tuple(0.9 + 0.02 * i for i in range(30)))
    expected = mannwhitneyu(canary.values, stable.values, alternative="greater").pvalue
    assert mann_whitney_p(canary, stable, "higher") == pytest.approx(expected)
    assert mann_whitney_p(canary, stable, "lower") > 0.5
    assert Series((3.0, 1.0, 2.0)).value == 2.0  # a side's value is its median


def test_a_test_given_the_wrong_kind_of_samples_says_so() -> None:
    with pytest.raises(TypeError, match="answer-latency: a Mann-Whitney test needs per-interval"):
        judge(
            [LATENCY],
            {LATENCY.name: {"es": counts((1, 100), (1, 100))}},
            alpha=0.05,
            steps=1,
            min_samples=10,
        )
