"""How a rollout's traffic canary reads (design §12.1): the step, the share of users it is at and
the share of requests it actually served (from the counts the metrics carry), and the judge's
table of metric x segment x verdict. Shared by ``rollout status``, ``plan`` and the page."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..model.canary_progress import CanaryProgress


@dataclass(frozen=True)
class JudgeRow:
    """One row of the judge's table, formatted."""

    metric: str
    segment: str
    verdict: str  #: pass | fail | insufficient
    canary: str  #: the canary side's value, and its sample size
    stable: str
    difference: str  #: ``+150.0%``
    p: str


def summary(c: CanaryProgress) -> str:
    """``canary step 2/3 (5% of users, 3.6% of requests served) baking``."""
    return c.describe()


def rows(table: Sequence[dict[str, Any]]) -> list[JudgeRow]:
    """The judge's last table, formatted."""

    def num(value: object, n: object) -> str:
        shown = f"{value:.4g}" if isinstance(value, int | float) else "-"
        return f"{shown} (n={n:g})" if isinstance(n, int | float) else shown

    out = []
    for row in table:
        difference = row.get("difference")
        p = row.get("p")
        out.append(
            JudgeRow(
                metric=str(row["metric"]),
                segment=str(row["segment"]),
                verdict=str(row["verdict"]),
                canary=num(row.get("canary"), row.get("canary_n")),
                stable=num(row.get("stable"), row.get("stable_n")),
                difference=f"{difference:+.1%}" if isinstance(difference, float) else "-",
                p=f"{p:.2g}" if isinstance(p, float) else "-",
            )
        )
    return out


def lines(c: CanaryProgress) -> list[str]:
    """``rollout status``'s canary lines: the step, and the judge's table."""
    out = [f"  canary: {summary(c)}" + (f" — {c.message}" if c.message else "")]
    for row in rows(c.table):
        out.append(
            f"    {row.metric} [{row.segment}] {row.verdict}: canary {row.canary} vs stable "
            f"{row.stable} ({row.difference}), p={row.p}"
        )
    return out
