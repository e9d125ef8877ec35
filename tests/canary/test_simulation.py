"""The judge in simulated rollouts (design §12.1), seeded and bounded (a few seconds):

- an unchanged agent is falsely aborted, anywhere in a 4-step rollout, at most ``alpha`` of the
  time (while judging each cell at ``alpha`` without the correction would abort most rollouts);
- a planted regression in one segment (refusals 8% -> 14% in ``es`` of en/es/de) is caught at or
  before the 5% step;
- the same regression judged without a segment split, with a 50% tolerance, never fails: the
  diluted aggregate (+25%) stays under it, though it is significant. The segment catches it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reconciler.canary.judge import Counts, Pair, Rule, Series, Verdict, judge
from tests.canary.child import in_child

if TYPE_CHECKING:
    import numpy as np

ALPHA, STEPS = 0.05, (0.01, 0.05, 0.25, 0.50)
SEGMENTS = ("en", "es", "de")
REQUESTS = 100_000  # per segment and step
INTERVALS = 60  # per-interval latency samples per step
REFUSALS = Rule("refusal-rate", "proportion", worse="higher", tolerance=0.0, critical=True)
LATENCY = Rule("answer-latency", "mann-whitney", worse="higher", tolerance=0.0, critical=False)


def step_samples(
    rng: np.random.Generator, share: float, canary_rate: dict[str, float], split: bool = True
) -> dict[str, dict[str, Pair]]:
    refusals: dict[str, Pair] = {}
    latency: dict[str, Pair] = {}
    for segment in SEGMENTS:
        n_canary = round(REQUESTS * share)
        n_stable = REQUESTS - n_canary
        events_canary = rng.binomial(n_canary, canary_rate.get(segment, 0.08))
        events_stable = rng.binomial(n_stable, 0.08)
        refusals[segment] = Pair(Counts(events_canary, n_canary), Counts(events_stable, n_stable))
        values = rng.lognormal(0.0, 0.2, size=(2, INTERVALS))
        latency[segment] = Pair(Series(tuple(values[0])), Series(tuple(values[1])))
    if not split:
        canary = Counts(
            *(sum(getattr(p.canary, f) for p in refusals.values()) for f in ("events", "trials"))
        )
        stable = Counts(
            *(sum(getattr(p.stable, f) for p in refusals.values()) for f in ("events", "trials"))
        )
        return {REFUSALS.name: {"*": Pair(canary, stable)}}
    return {REFUSALS.name: refusals, LATENCY.name: latency}


def rollout(
    rng: np.random.Generator,
    canary_rate: dict[str, float],
    *,
    rules: tuple[Rule, ...] = (REFUSALS, LATENCY),
    split: bool = True,
    steps: int = len(STEPS),
) -> list[Verdict]:
    """The verdicts of every step until the first that does not pass."""
    verdicts = []
    for share in STEPS:
        samples = step_samples(rng, share, canary_rate, split)
        verdict = judge(list(rules), samples, alpha=ALPHA, steps=steps, min_samples=50)
        verdicts.append(verdict)
        if verdict.decision != "pass":
            break
    return verdicts


@in_child
def test_an_unchanged_agent_is_falsely_aborted_at_most_alpha_of_the_time() -> None:
    import numpy as np

    rng = np.random.default_rng(20261206)
    runs = 500
    stopped = sum(rollout(rng, {})[-1].decision != "pass" for _ in range(runs))
    # tolerance 0, the worst case: the correction alone holds the rate to alpha (~4.9% here with
    # 4 steps x 6 independent cells). Seen over 500 runs, a rate above alpha would show as more
    # stops than a binomial at alpha gives 99% of the time.
    from scipy.stats import binom

    assert stopped <= binom.ppf(0.99, runs, ALPHA), f"{stopped} of {runs} unchanged rollouts"
    # the correction is what holds it: each cell at alpha (one step, one cell's level) stops most
    uncorrected = sum(
        any(
            c.p <= ALPHA
            for share in STEPS
            for c in judge(
                [REFUSALS, LATENCY],
                step_samples(rng, share, {}),
                alpha=ALPHA,
                steps=1,
                min_samples=50,
            ).cells
        )
        for _ in range(100)
    )
    assert uncorrected >= 50, f"only {uncorrected} of 100 would stop without the correction"


@in_child
def test_a_one_segment_regression_is_caught_at_or_before_the_5_percent_step() -> None:
    import numpy as np

    rng = np.random.default_rng(7)
    runs = 200
    caught = 0
    for _ in range(runs):
        verdicts = rollout(rng, {"es": 0.14})
        last = verdicts[-1]
        if last.decision == "abort" and len(verdicts) <= 2:
            caught += 1
            critical = {(c.metric, c.segment) for c in last.failed if c.critical}
            assert critical == {("refusal-rate", "es")}
    assert caught / runs >= 0.95, f"caught {caught} of {runs} by the 5% step"


@in_child
def test_without_the_segment_split_the_diluted_regression_stays_under_a_50_percent_tolerance() -> (
    None
):
    import numpy as np

    rng = np.random.default_rng(11)
    tolerant = Rule("refusal-rate", "proportion", worse="higher", tolerance=0.5, critical=True)
    significant = 0
    for _ in range(200):
        verdicts = rollout(rng, {"es": 0.14}, rules=(tolerant,), split=False)
        assert [v.decision for v in verdicts] == ["pass"] * len(STEPS)
        (cell,) = verdicts[-1].cells
        assert 0.15 < cell.difference < 0.35  # +25% expected: (8 + 14 + 8) / 3 = 10% vs 8%
        significant += cell.p <= cell.level
    assert significant >= 190  # at 50% it is significant: only the tolerance lets it pass
    # and split by segment, the same tolerance catches it in es (+75%)
    split = rollout(rng, {"es": 0.14}, rules=(tolerant,))
    assert split[-1].decision == "abort"
    assert [c.segment for c in split[-1].failed] == ["es"]
