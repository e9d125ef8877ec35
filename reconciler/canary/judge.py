"""The canary judge (design §12.1): per metric and segment, the canary digest's samples against
the stable digest's, one-sided, Holm-Bonferroni over a step's metrics x segments at ``alpha``
divided by the number of steps. Pure: samples in, verdict out (scipy loads only when a
Mann-Whitney metric is judged)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

Test = Literal["proportion", "mann-whitney"]
Worse = Literal["higher", "lower"]
Status = Literal["insufficient", "pass", "fail"]
Decision = Literal["pass", "wait", "hold", "abort"]


@dataclass(frozen=True)
class Rule:
    """What the judge needs of one metric (the spec's ``judge.metrics[]``)."""

    name: str
    test: Test
    worse: Worse = "higher"
    tolerance: float = 0.0  # relative: 0.05 is 5 %
    critical: bool = True


@dataclass(frozen=True)
class Counts:
    """Events among trials on one side (``test: proportion``): its sample size is ``trials``."""

    events: float
    trials: float

    @property
    def size(self) -> float:
        return self.trials

    @property
    def value(self) -> float:
        return self.events / self.trials if self.trials > 0 else math.nan


@dataclass(frozen=True)
class Series:
    """Per-interval values on one side (``test: mann-whitney``): one sample per interval."""

    values: tuple[float, ...]

    @property
    def size(self) -> float:
        return len(self.values)

    @property
    def value(self) -> float:
        return statistics.median(self.values) if self.values else math.nan


Side = Counts | Series


@dataclass(frozen=True)
class Pair:
    """Both sides of one metric in one segment."""

    canary: Side
    stable: Side


#: metric name -> segment -> both sides (a metric judged without ``by`` has one segment).
Samples = Mapping[str, Mapping[str, Pair]]


@dataclass(frozen=True)
class Cell:
    """The judgement of one metric in one segment: both sides' values (a rate, or the median
    of the per-interval values), the relative difference (canary vs stable), p and the level
    it was held to (Holm's step), or ``insufficient`` with the sample sizes."""

    metric: str
    segment: str
    status: Status
    canary: float
    stable: float
    canary_n: float
    stable_n: float
    difference: float = math.nan
    p: float = math.nan
    level: float = math.nan
    critical: bool = True

    def describe(self) -> str:
        """One line for an alert or a table: metric, segment, both values, difference, p."""
        where = f"{self.metric} [{self.segment}]"
        if self.status == "insufficient":
            return f"{where}: too few samples (canary {self.canary_n:g}, stable {self.stable_n:g})"
        return (
            f"{where}: {self.status}: canary {self.canary:.4g} vs stable {self.stable:.4g} "
            f"({self.difference:+.1%}), p={self.p:.2g} (level {self.level:.3g})"
        )


@dataclass(frozen=True)
class Verdict:
    """A step's judgement: ``abort`` (a critical metric failed), ``hold`` (only non-critical
    ones failed: CanaryMarginal), ``wait`` (some segment is thin) or ``pass``."""

    decision: Decision
    cells: tuple[Cell, ...]
    level: float

    @property
    def failed(self) -> tuple[Cell, ...]:
        return tuple(c for c in self.cells if c.status == "fail")

    @property
    def thin(self) -> tuple[Cell, ...]:
        return tuple(c for c in self.cells if c.status == "insufficient")

    @property
    def reason(self) -> str:
        """Why, in one line: the failing (or thin) cells, or that every cell passed."""
        if self.decision in ("abort", "hold"):
            shown = [c for c in self.failed if c.critical or self.decision == "hold"]
            return "; ".join(c.describe() for c in shown)
        if self.decision == "wait":
            return "waiting for samples: " + "; ".join(c.describe() for c in self.thin)
        return f"{len(self.cells)} metric x segment cells pass"


def thin_cells(samples: Samples, min_samples: int) -> list[tuple[str, str]]:
    """The (metric, segment) cells with fewer than ``min_samples`` on either side."""
    return [
        (metric, segment)
        for metric, segments in samples.items()
        for segment, pair in segments.items()
        if min(pair.canary.size, pair.stable.size) < min_samples
    ]


def judge(
    rules: Sequence[Rule], samples: Samples, *, alpha: float, steps: int, min_samples: int
) -> Verdict:
    """Judge one step. A cell fails when its p is below its Holm level (of ``alpha / steps``,
    over the step's sufficient cells) in the ``worse`` direction **and** the relative difference
    is beyond the rule's ``tolerance``. A metric with no segment at all is thin (``*``)."""
    level = alpha / max(steps, 1)
    sufficient: list[tuple[Rule, str, Pair]] = []
    thin: list[Cell] = []
    for rule in rules:
        segments = samples.get(rule.name) or {}
        if not segments:
            thin.append(Cell(rule.name, "*", "insufficient", math.nan, math.nan, 0, 0))
        for segment, pair in sorted(segments.items()):
            if min(pair.canary.size, pair.stable.size) < min_samples:
                sides = (pair.canary.value, pair.stable.value)
                thin.append(_cell(rule, segment, pair, "insufficient", sides))
            else:
                sufficient.append((rule, segment, pair))
    measured = measure([(rule, pair) for rule, _, pair in sufficient])
    cells = list(thin)
    held = holm([p for p, _, _ in measured], level)
    for (rule, segment, pair), values, (holm_level, rejected) in zip(
        sufficient, measured, held, strict=True
    ):
        p, canary, stable = values
        difference = _relative(canary, stable)
        beyond = (difference if rule.worse == "higher" else -difference) > rule.tolerance
        status: Status = "fail" if rejected and beyond else "pass"
        cells.append(_cell(rule, segment, pair, status, (canary, stable), p=p, level=holm_level))
    cells.sort(key=lambda c: (c.metric, c.segment))
    return Verdict(_decide(cells), tuple(cells), level)


def holm(p_values: Sequence[float], level: float) -> list[tuple[float, bool]]:
    """Holm's step-down at ``level``: for each p (in the order given) the level it is held to
    (``level / (m - rank)``) and whether it is rejected (every smaller p was, and it is too)."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    found: list[tuple[float, bool]] = [(level, False)] * len(p_values)
    rejecting = True
    for rank, index in enumerate(order):
        held = level / (len(order) - rank)
        rejecting = rejecting and p_values[index] <= held
        found[index] = (held, rejecting)
    return found


def _decide(cells: Sequence[Cell]) -> Decision:
    if any(c.status == "insufficient" for c in cells):
        return "wait"
    failed = [c for c in cells if c.status == "fail"]
    if any(c.critical for c in failed):
        return "abort"
    return "hold" if failed else "pass"


def _cell(
    rule: Rule,
    segment: str,
    pair: Pair,
    status: Status,
    values: tuple[float, float],
    **found: float,
) -> Cell:
    canary, stable = values
    return Cell(
        rule.name,
        segment,
        status,
        canary,
        stable,
        pair.canary.size,
        pair.stable.size,
        difference=_relative(canary, stable),
        critical=rule.critical,
        **found,
    )


def _relative(canary: float, stable: float) -> float:
    if math.isnan(canary) or math.isnan(stable):
        return math.nan
    if stable == 0:
        return 0.0 if canary == 0 else math.copysign(math.inf, canary)
    return (canary - stable) / abs(stable)


#: What a cell's test gives: (one-sided p, the canary's value, the stable side's value).
Measured = tuple[float, float, float]


def measure(cells: Sequence[tuple[Rule, Pair]]) -> list[Measured]:
    """Per cell: the one-sided p that the canary is worse, and both sides' values. Mann-Whitney
    cells of the same sizes and direction go to scipy in one call (a row each: a call costs
    ~1 ms, a row little), their medians taken from the same array."""
    found: list[Measured] = [(math.nan, math.nan, math.nan)] * len(cells)
    batches: dict[tuple[int, int, Worse], list[tuple[int, Series, Series]]] = {}
    for index, (rule, pair) in enumerate(cells):
        canary, stable = pair.canary, pair.stable
        if rule.test == "proportion":
            if not isinstance(canary, Counts) or not isinstance(stable, Counts):
                raise TypeError(f"{rule.name}: a proportion test needs counts on both sides")
            found[index] = (proportion_p(canary, stable, rule.worse), canary.value, stable.value)
        elif isinstance(canary, Series) and isinstance(stable, Series):
            shape = (len(canary.values), len(stable.values), rule.worse)
            batches.setdefault(shape, []).append((index, canary, stable))
        else:
            raise TypeError(f"{rule.name}: a Mann-Whitney test needs per-interval values")
    for (_, _, worse), rows in batches.items():
        canaries = [canary.values for _, canary, _ in rows]
        stables = [stable.values for _, _, stable in rows]
        batch = _mann_whitney(canaries, stables, worse)
        for (index, _, _), measured in zip(rows, batch, strict=True):
            found[index] = measured
    return found


def p_value(rule: Rule, pair: Pair) -> float:
    """One-sided p that the canary is worse than the stable side, for one cell."""
    return measure([(rule, pair)])[0][0]


def proportion_p(canary: Counts, stable: Counts, worse: Worse) -> float:
    """One-sided two-proportion z-test (pooled) on the summed counts."""
    n1, n2 = canary.trials, stable.trials
    pooled = (canary.events + stable.events) / (n1 + n2)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if spread == 0 or math.isnan(spread):
        return 1.0  # both sides all events or none: no difference to see
    z = (canary.value - stable.value) / spread
    if worse == "lower":
        z = -z
    return 0.5 * math.erfc(z / math.sqrt(2))  # the normal's upper tail at z


def mann_whitney_p(canary: Series, stable: Series, worse: Worse) -> float:
    """One-sided Mann-Whitney U (scipy's ``mannwhitneyu``) of the per-interval values."""
    return _mann_whitney([canary.values], [stable.values], worse)[0][0]


def _mann_whitney(
    canaries: Sequence[Sequence[float]], stables: Sequence[Sequence[float]], worse: Worse
) -> list[Measured]:
    """scipy's ``mannwhitneyu`` over rows of equal sizes in one call, and the rows' medians."""
    import numpy
    from scipy.stats import mannwhitneyu

    canary, stable = numpy.asarray(canaries, dtype=float), numpy.asarray(stables, dtype=float)
    alternative = "greater" if worse == "higher" else "less"
    found = mannwhitneyu(canary, stable, alternative=alternative, axis=1)
    medians = zip(numpy.median(canary, axis=1), numpy.median(stable, axis=1), strict=True)
    return [
        (1.0 if math.isnan(p) else float(p), float(c), float(s))
        for p, (c, s) in zip(found.pvalue, medians, strict=True)
    ]
