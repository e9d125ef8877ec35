"""The daemon's part of a device fleet (design §13): each step, switch the devices targets'
manifests to the desired revision, wave by channel (:func:`~reconciler.rollout.fleetwaves.next_wave`
decides; the step's clock times the bakes, nothing sleeps), on the environment run's one loop.

An artifact that is missing or differs from its stated sha256 switches nothing of the target
and pauses its waves loudly: an alert (``paused``) and a failed write naming the tier, the URL,
and the stated and actual sha256, once per desired revision. Adoption is observed, never
awaited: the audit shows it.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from ..bundle.tiers import tier_render, tiers
from ..model.codes import AlertCondition
from ..model.rollout import Notify
from ..sources.interface import SourceError
from .artifacts import ArtifactMismatch
from .fleetgates import judge_tiers
from .fleets import FleetSwitchFailed, channel_waves, publish
from .fleetwaves import next_wave

if TYPE_CHECKING:
    from ..audit.results import Survey
    from ..bundle.rendered import Rendered
    from ..model.inventory import Inventory, TargetSpec
    from .step import BundleStep

Key = tuple[str, str, str]  #: (target, bundle, desired digest)
#: ``driver`` below is the step's :class:`~reconciler.rollout.driver.Driver` (Any: it imports
#: this module).


class FleetSteering:
    """What the daemon remembers between steps: when each channel was first seen serving the
    desired digests (a restart starts the bake again: it never shortens one), and what it said."""

    def __init__(self) -> None:
        self.seen: dict[Key, dict[str, float]] = {}
        self.told: set[tuple[Key, str]] = set()
        #: Waves a failing tier gate paused, until a new desired revision (as the stores'
        #: analysis pause, it is not lifted by a later passing answer).
        self.paused: set[Key] = set()

    def step(self, driver: Any, survey: Survey, steps: dict[str, BundleStep], now: float) -> None:
        """Switch what is due of every devices target, for every bundle."""
        inventory = survey.whole or survey.inventory
        fleets = [t for t in inventory.targets if t.is_devices()]
        if not fleets:
            return
        order = channel_waves(inventory)
        for bundle in inventory.bundles:
            done = survey.desired[bundle]
            for target in fleets:
                waves = [(channels, bake) for name, channels, bake in order if name == target.name]
                self._target(driver, inventory, target, done, waves, steps[bundle], now)

    def _target(
        self,
        driver: Any,
        inventory: Inventory,
        target: TargetSpec,
        done: Rendered,
        waves: list[tuple[list[str], float]],
        step: BundleStep,
        now: float,
    ) -> None:
        key = (target.name, done.name, done.digest)
        if key in self.paused:
            return
        served = driver.run.call(_served(target, done, driver))
        seen = self.seen.setdefault(key, {})
        for channel, ok in served.items():
            if ok:
                seen.setdefault(channel, now)
        decided = next_wave(waves, served, seen, now)
        if not decided.switch:
            return
        revision = done.revision or ""
        names = tiers(done)
        if decided.after:
            failures = judge_tiers(
                inventory,
                target,
                done.name,
                revision,
                decided.after,
                names,
                driver.environ,
                driver.run.call,
            )
            if failures:
                after = "/".join(decided.after)
                why = f"target {target.name}: paused after {after}: " + "; ".join(failures)
                self.paused.add(key)
                self._pause(driver, inventory, step, key, why, now, revision)
                return
        driver.fence()
        try:
            driver.run.call(
                publish(target, done, decided.switch, driver.run.sources, driver.run.opener)
            )
        except (ArtifactMismatch, FleetSwitchFailed) as exc:  # tried again each step
            self._pause(driver, inventory, step, key, str(exc), now, revision)
            return
        for channel in decided.switch:
            seen[channel] = now
        step.written.append(f"{target.name} ({'/'.join(decided.switch)} manifests)")

    def _pause(
        self,
        driver: Any,
        inventory: Inventory,
        step: BundleStep,
        key: Key,
        why: str,
        now: float,
        revision: str,
    ) -> None:
        """Say why the target's waves stop, once per desired revision and reason: a failed
        write (the daemon's ``apply_failed`` log line) and an alert."""
        if (key, why) in self.told:
            return
        self.told.add((key, why))
        step.failed[f"{key[0]} manifests"] = why
        notice = Notify(AlertCondition.PAUSED, "firing", (), why)
        step.actions.append(notice)
        step.alert_errors += driver.notifier.send(inventory, key[1], notice, now, revision)


async def _served(target: TargetSpec, done: Rendered, driver: Any) -> dict[str, bool]:
    """Channel -> whether each of its tiers' manifests serves the desired digest."""
    from ..audit.devices import read_manifest

    names = tiers(done)
    keys = [(c, t) for c in target.channels for t in names]
    found = await asyncio.gather(
        *(read_manifest(target, done.name, c, t, driver.run.sources) for c, t in keys),
        return_exceptions=True,
    )
    served = {c: True for c in target.channels}
    for (channel, tier), doc in zip(keys, found, strict=True):
        if isinstance(doc, BaseException) and not isinstance(doc, SourceError | ValueError):
            raise doc
        digest = doc.get("digest") if isinstance(doc, dict) else None
        if digest != tier_render(done, tier).digest:
            served[channel] = False
    return served
