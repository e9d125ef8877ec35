"""Which channels of a devices target the daemon switches next (design §13), decided purely.

A devices target's waves (:func:`reconciler.rollout.fleets.channel_waves`) switch in order:
a wave goes once every wave before it serves the desired digests and the one just before has
baked since it was first seen serving them. The daemon asks this each step, with its clock:
nothing here waits or reads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class NextWave:
    """What a step does for one devices target and bundle."""

    #: The channels to switch now (empty: none this step).
    switch: tuple[str, ...] = ()
    #: The channels of the wave just before, whose tier gates are asked before switching.
    after: tuple[str, ...] = ()
    #: Baking: the earliest time the next wave may go (None: not baking).
    baking_until: float | None = None


def next_wave(
    waves: Sequence[tuple[Sequence[str], float]],
    served: Mapping[str, bool],
    seen_since: Mapping[str, float],
    now: float,
) -> NextWave:
    """``waves``: (channels, bake) in order; ``served``: channel -> whether each of its tiers
    serves the desired digest; ``seen_since``: channel -> when it was first seen so."""
    before: tuple[tuple[str, ...], float] | None = None
    for channels, bake in waves:
        if all(served.get(c, False) for c in channels):
            before = (tuple(channels), bake)
            continue
        if before is None:
            return NextWave(switch=tuple(channels))
        done, baked = before
        since = max((seen_since.get(c, now) for c in done), default=now)
        if now < since + baked:
            return NextWave(baking_until=since + baked)
        return NextWave(switch=tuple(channels), after=done)
    return NextWave()
