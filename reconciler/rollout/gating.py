"""The bake's gates, judged (pure): what metric analyses and output contracts answered this
step, per target of the baking wave (:class:`~reconciler.model.rollout.GateReading`), becomes
"the wave may go", "wait", or the first failure.

A gate lets its wave go once it has passed without a break for its ``hold`` (``for:``), counted
from the wave's bake start at the earliest; one failing answer fails it at once. The driver does
the asking (Prometheus, the outputs endpoints); nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..model.duration import format_duration
from ..model.rollout import GateReading, Observation, TargetProgress


@dataclass(frozen=True)
class Failure:
    """The first bake gate that said no, on which target."""

    target: str
    reading: GateReading

    @property
    def message(self) -> str:
        return f"{self.reading.gate} failed on {self.target}: {self.reading.message}"


def forget(members: Sequence[tuple[str, TargetProgress]]) -> None:
    """The wave is not baking (a target left it): every gate must hold again from scratch."""
    for _, t in members:
        t.holding.clear()
        t.gate_wait = ""


def weigh(
    members: Sequence[tuple[str, TargetProgress]],
    observations: Mapping[str, Observation],
    now: float,
) -> tuple[bool, Failure | None]:
    """Take in the wave's gate readings: (every gate has held long enough, the first failure)."""
    ready = True
    failed: Failure | None = None
    for name, t in members:
        seen = observations.get(name)
        readings = seen.gates if seen is not None else None
        if readings is None:  # it has gates nobody asked this step: no verdict from them
            ready = False
            t.gate_wait = t.gate_wait or "bake gates not asked yet"
            continue
        waits: list[str] = []
        asked = {reading.gate for reading in readings}
        for gone in set(t.holding) - asked:
            del t.holding[gone]
        for reading in readings:
            if reading.verdict == "fail":
                t.holding.pop(reading.gate, None)
                waits.append(f"{reading.gate} failed: {reading.message}")
                if failed is None:
                    failed = Failure(name, reading)
            elif reading.verdict == "wait":
                t.holding.pop(reading.gate, None)
                waits.append(f"{reading.gate}: {reading.message}")
            elif now - t.holding.setdefault(reading.gate, now) < reading.hold:
                # No countdown in the text: it feeds conditions, whose time must not tick.
                waits.append(f"{reading.gate} must hold for {format_duration(reading.hold)}")
        t.gate_wait = "; ".join(waits)
        ready = ready and not waits
    return ready and failed is None, failed
