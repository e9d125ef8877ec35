"""Analysis gates on a device fleet (design §13): a gate's query may name ``{tier}`` and
``{channel}``, so a regression on one device tier is judged on its own. After a wave switched a
devices target's channels, each gate that reads the target is asked once per tier and channel;
any failure pauses the wave (the later channels are not switched)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import ReconcilerError
from ..gates.prometheus import measure_all, metric_reading, substitute

if TYPE_CHECKING:
    from ..model.inventory import Inventory, TargetSpec


class FleetPaused(ReconcilerError):
    """A gate failed for a tier after a wave: the later channels wait (exit 2)."""


def judge_tiers(
    inventory: Inventory,
    target: TargetSpec,
    bundle: str,
    revision: str,
    channels: Sequence[str],
    tiers: Sequence[str],
    environ: Mapping[str, str],
    call: Callable[[Coroutine[Any, Any, Any]], Any] = asyncio.run,
) -> list[str]:
    """Why the wave may not go on: one line per failing gate, tier and channel (empty: go)."""
    gates = [g for g in inventory.rollout.analysis if g.reads(target.name)]
    if not gates or inventory.analysis is None:
        return []
    asked = []
    for gate in gates:
        for channel in channels:
            for tier in tiers:
                values = {
                    "target": target.name,
                    "bundle": bundle,
                    "environment": inventory.environment,
                    "revision": revision,
                    "tier": tier,
                    "channel": channel,
                }
                asked.append((gate, channel, tier, substitute(gate.query, values)))
    spec = inventory.analysis.prometheus
    measured = call(measure_all(spec, environ, [q for *_, q in asked]))
    failures = []
    for gate, channel, tier, query in asked:
        reading = metric_reading(gate, measured[query])
        if reading.verdict != "pass":
            failures.append(f"{gate.name} on {target.name}/{channel}/{tier}: {reading.message}")
    return failures
