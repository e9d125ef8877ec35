"""The bake's gates for one rollout step — the driver's I/O side of them: the targets of the
current wave that converged are asked; each metric analysis is one Prometheus query per target,
and each output contract is the check the step's audit already made (:attr:`Survey.outputs`).
The answers go to the pure engine as :class:`~reconciler.model.rollout.GateReading` per target.

A target with gates that is not asked this step gets ``gates=None``: its wave cannot finish
baking on this step's word. Nothing is asked while the rollout cannot move (paused, awaiting an
eval, complete), so a stuck rollout does not hammer Prometheus.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from ..environment import EnvironmentRun
from ..gates.contract import Checked
from ..gates.prometheus import Measured, judge, measure_all, substitute
from ..model.inventory import Inventory
from ..model.rollout import GateReading, Observation, Phase, Rollout
from .observe import Sighting

OUTPUT_GATE = "output_contract"


def observations(
    sighting: Sighting,
    rollout: Rollout,
    bundle: str,
    run: EnvironmentRun,
    *,
    asking: bool = True,
    left: float | None = None,
) -> dict[str, Observation]:
    """The engine's input for ``bundle``: each target's observation with its gate readings."""
    seen = sighting.observations(bundle)
    survey = sighting.survey
    inventory = survey.inventory
    analysis = inventory.rollout.analysis
    gated = {
        t.name
        for t in inventory.targets
        if t.outputs is not None or any(g.reads(t.name) for g in analysis)
    }
    if not gated:
        return seen
    asked = set()
    if asking and rollout.phase is Phase.PROGRESSING:
        asked = {
            name
            for name in gated
            if name in rollout.targets
            and rollout.targets[name].wave == rollout.wave
            and seen[name].converged
        }
    values = {"bundle": bundle, "environment": inventory.environment}
    values["revision"] = survey.desired_revision
    readings = _readings(inventory, sorted(asked), values, survey.outputs, run, left)
    return {
        name: dataclasses.replace(obs, gates=readings.get(name)) if name in gated else obs
        for name, obs in seen.items()
    }


def _readings(
    inventory: Inventory,
    targets: list[str],
    values: dict[str, str],
    outputs: Mapping[str, Checked],
    run: EnvironmentRun,
    left: float | None = None,
) -> dict[str, tuple[GateReading, ...]]:
    """Every gate of every asked target, the Prometheus queries all at once (on the step's loop
    and HTTP pool), within ``left`` seconds (the command's deadline) whatever Prometheus's
    timeout and retries."""
    asks = [
        (target, gate, substitute(gate.query, {**values, "target": target}))
        for target in targets
        for gate in inventory.rollout.analysis
        if gate.reads(target)
    ]
    measured: dict[str, Measured] = {}
    if asks and inventory.analysis is not None:
        queries = [query for _, _, query in asks]
        prometheus = inventory.analysis.prometheus
        asked = measure_all(prometheus, run.environ, queries, left=left, client=run.sources.http)
        measured = run.call(asked)
    found: dict[str, list[GateReading]] = {target: [] for target in targets}
    for target, gate, query in asks:
        found[target].append(judge(gate, measured[query]))
    for target in targets:
        if target in outputs:
            found[target].append(output_reading(outputs[target]))
    return {target: tuple(readings) for target, readings in found.items()}


def output_reading(checked: Checked) -> GateReading:
    """The output contract as a bake gate: broken fails; not readable fails closed."""
    if checked.error:
        return GateReading(OUTPUT_GATE, "fail", f"{checked.message} (fails closed)")
    return GateReading(OUTPUT_GATE, "fail" if checked.broken else "pass", checked.message)
