"""Which channels of a devices target the daemon switches next (design §13): pure, on a clock."""

from __future__ import annotations

from reconciler.rollout.fleetwaves import NextWave, next_wave

WAVES = [(["beta"], 60.0), (["stable"], 0.0)]


def test_the_first_wave_not_served_switches_first() -> None:
    assert next_wave(WAVES, {"beta": False, "stable": False}, {}, 100.0) == NextWave(("beta",))


def test_the_next_wave_waits_out_the_bake_of_the_one_before() -> None:
    served = {"beta": True, "stable": False}
    assert next_wave(WAVES, served, {"beta": 100.0}, 130.0) == NextWave(baking_until=160.0)
    assert next_wave(WAVES, served, {"beta": 100.0}, 160.0) == NextWave(("stable",), ("beta",))


def test_a_wave_first_seen_served_now_starts_its_bake_now() -> None:
    # a restarted daemon never shortens a bake: what it has not seen starts baking when seen
    assert next_wave(WAVES, {"beta": True}, {}, 500.0) == NextWave(baking_until=560.0)


def test_everything_served_switches_nothing() -> None:
    assert next_wave(WAVES, {"beta": True, "stable": True}, {"beta": 0.0}, 1.0) == NextWave()
