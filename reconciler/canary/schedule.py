"""When a canary step looks at its samples (design §12.1): once, at the end of the bake when every
metric and segment has ``min_samples`` on both sides, else at the first interval after which they
all do. One look per step keeps the false-abort rate honest; re-testing every interval would not."""

from __future__ import annotations

import math
from collections.abc import Sequence


def look_at(
    *, started: float, bake: float, interval: float, enough_at: float | None
) -> float | None:
    """The time of the step's one look: the bake's end if the samples were enough by then,
    else the first interval boundary (counted from ``started``) at or after ``enough_at``, the
    time the last thin cell reached ``min_samples``. None while some cell is still thin."""
    if enough_at is None:
        return None
    end = started + bake
    if enough_at <= end:
        return end
    if interval <= 0:
        return enough_at
    return started + math.ceil((enough_at - started) / interval - 1e-9) * interval


def first_enough(
    *, started: float, interval: float, sizes: Sequence[Sequence[float]], min_samples: int
) -> float | None:
    """When every cell first had ``min_samples``: ``sizes[i]`` are the smaller side's sample
    counts of every cell, cumulated over the first ``i + 1`` intervals after ``started``."""
    for index, cells in enumerate(sizes):
        if cells and min(cells) >= min_samples:
            return started + (index + 1) * interval
    return None


def due(
    *,
    now: float,
    started: float,
    bake: float,
    interval: float,
    enough_at: float | None,
    looked: bool,
) -> bool:
    """Whether the step looks now: it has not looked yet, and its look time has come."""
    when = look_at(started=started, bake=bake, interval=interval, enough_at=enough_at)
    return not looked and when is not None and now >= when
