"""What each target should carry, seen through its own eyes: the desired subset (its overlay,
its carried components, its ignore rules) and the bundle's lineage the same way — shared by
every target that sees a bundle alike, built once per audit before any I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..bundle.history import BundleHistory
from ..canonical import bundle_digest, component_digests
from ..diff import ignore as ignoring
from ..diff.classify import Lineage

if TYPE_CHECKING:
    from ..model.inventory import IgnoreRule, TargetSpec


@dataclass(slots=True)
class View:
    """A target's view of one bundle: desired subset and its lineage."""

    desired: dict[str, Any]  #: carried desired components, ignored paths removed
    desired_digests: dict[str, str]
    desired_subset: str
    lineage: Lineage
    rules: list[IgnoreRule]  #: active ignore rules naming the target
    desired_raw: dict[str, Any]  #: carried desired components as rendered

    def strip(self, target: str, components: Mapping[str, Any]) -> dict[str, Any]:
        return ignoring.strip(target, components, self.rules)


class Views:
    """Desired subsets and lineages, shared by every target that sees a bundle the same way."""

    def __init__(
        self,
        histories: Mapping[str, BundleHistory],
        rules: list[Any],
        first_seen: Mapping[str, float] | None,
        now: float,
    ) -> None:
        self.histories = histories
        self.rules = rules
        self.first_seen = first_seen  #: the state store's first sightings (None: no state)
        self.now = now
        self._views: dict[tuple[Any, ...], View] = {}

    def get(self, target: TargetSpec, bundle: str) -> View:
        history = self.histories[bundle]
        overlay = target.name if history.has_overlay(target.name) else None
        rules = ignoring.rules_for(target.name, self.rules)
        carries = target.carries_signature()
        key = (
            bundle,
            overlay,
            carries,
            tuple(id(r) for r in rules),
            target.name if rules else None,
        )
        view = self._views.get(key)
        if view is None:
            view = self._views[key] = self._build(target, history, overlay, rules)
        return view

    def _build(
        self,
        target: TargetSpec,
        history: BundleHistory,
        overlay: str | None,
        rules: list[IgnoreRule],
    ) -> View:
        def arrived(sha: str) -> float:
            return history.arrived(sha, self.first_seen, self.now)

        carried = target.carries_component
        render = history.desired_render(overlay)
        raw = {k: v for k, v in render.components.items() if carried(k)}
        if rules:

            def strip(components: Mapping[str, Any]) -> dict[str, Any]:
                return ignoring.strip(target.name, components, rules)

            desired = strip(raw)
            digests = component_digests(desired)
            lineage = history.lineage(overlay, carried, strip, arrived)
        else:
            desired = raw
            digests = {k: render.digests[k] for k in raw}
            lineage = history.lineage(overlay, carried, arrived=arrived)
        return View(desired, digests, bundle_digest(digests), lineage, rules, raw)
