"""When a canary step looks (design §12.1): once, at the end of the bake when every cell has
min_samples, else at the first interval boundary after which they all do; never while thin."""

from __future__ import annotations

import pytest

from reconciler.canary.schedule import due, first_enough, look_at

STARTED, BAKE, INTERVAL = 1000.0, 1800.0, 60.0

LOOKS = [
    ("enough before the bake ends: at the bake's end", 1500.0, 2800.0),
    ("enough exactly at the bake's end", 2800.0, 2800.0),
    ("enough after the bake: the next interval boundary", 2830.0, 2860.0),
    ("enough on a boundary after the bake: that boundary", 2920.0, 2920.0),
    ("still thin: no look", None, None),
]


@pytest.mark.parametrize(("name", "enough_at", "expected"), LOOKS, ids=[x[0] for x in LOOKS])
def test_look_at(name: str, enough_at: float | None, expected: float | None) -> None:
    when = look_at(started=STARTED, bake=BAKE, interval=INTERVAL, enough_at=enough_at)
    assert when == expected


def test_a_step_looks_once_and_only_when_due() -> None:
    kwargs = {"started": STARTED, "bake": BAKE, "interval": INTERVAL, "enough_at": 1500.0}
    assert not due(now=2799.0, looked=False, **kwargs)
    assert due(now=2800.0, looked=False, **kwargs)
    assert not due(now=2900.0, looked=True, **kwargs)  # once per step
    assert not due(now=9999.0, looked=False, **{**kwargs, "enough_at": None})  # thin: waits


def test_first_enough_is_the_end_of_the_first_interval_where_every_cell_has_min_samples() -> None:
    sizes = [[10, 60], [40, 80], [50, 120], [90, 200]]  # cumulated, smaller side per cell
    assert first_enough(started=STARTED, interval=INTERVAL, sizes=sizes, min_samples=50) == 1180.0
    assert first_enough(started=STARTED, interval=INTERVAL, sizes=sizes, min_samples=500) is None
