"""Writing a device fleet (design §13): each devices target's manifests, one per channel and
tier, staged then switched together as one group (§12), after every tier's artifact checked out.

Adoption is observed, never awaited: a devices target counts as converged when its manifests
serve the desired digests, read back. Waves switch channels in order (a wave's ``channels``, e.g.
beta before stable). A rollback switches the manifests back and revokes, per tier, the digest
the manifest served just before.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine, Mapping, Sequence
from fnmatch import fnmatchcase
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..audit.devices import read_manifest
from ..bundle.rendered import Rendered
from ..bundle.tiers import manifest, tier_render, tiers
from ..errors import ReconcilerError
from ..sources.interface import SourceError
from ..sources.manifests import manifest_part
from .artifacts import ArtifactMismatch, check_all
from .switching import Group, Part, Switcher

if TYPE_CHECKING:
    from ..environment import EnvironmentRun
    from ..model.inventory import Inventory, TargetSpec
    from ..sources.registry import SourceContext, SourceOpener


class FleetSwitchFailed(ReconcilerError):
    """The manifests could not be staged or switched (the group is whole on what it served)."""


async def publish(
    target: TargetSpec,
    done: Rendered,
    channels: Sequence[str],
    ctx: SourceContext,
    opener: SourceOpener,
    *,
    revoke: bool = False,
    min_supported: Mapping[str, str] | None = None,
) -> dict[tuple[str, str], str]:
    """Switch ``target``'s manifests of ``channels`` to ``done``'s tier renders; the digest each
    (channel, tier) serves after, read back. ``revoke``: add to each tier's ``revoked`` the
    digest its manifest served before (a rollback)."""
    bundle = done.name
    names = tiers(done)
    checked = await check_all(done.components["model"]["variants"])
    bad = [c for c in checked if not c.ok]
    if bad:
        raise ArtifactMismatch(target.name, bad)
    keys = [(c, t) for c in channels for t in names]
    before = await asyncio.gather(
        *(read_manifest(target, bundle, c, t, ctx) for c, t in keys), return_exceptions=True
    )
    parts = []
    for (channel, tier), old in zip(keys, before, strict=True):
        served = old if isinstance(old, dict) else None
        want = tier_render(done, tier).digest
        revoked = set(_revoked(served))
        if revoke and served is not None and served.get("digest") not in (None, want):
            revoked.add(str(served["digest"]))
        revoked.discard(want)
        doc = manifest(
            done,
            tier,
            channel,
            min_supported=(min_supported or {}).get(tier),
            revoked=sorted(revoked),
        )
        parts.append(
            Part(
                manifest_part(target, bundle, channel, tier),
                _bytes(doc),
                _bytes(served) if served is not None else None,
            )
        )
    switcher = Switcher(ctx, opener)
    (outcome,), _ = await switcher.run(bundle, [Group(target.name, parts)])
    if outcome.outcome != "switched":
        raise FleetSwitchFailed(f"target {target.name}: {outcome.reason or outcome.outcome}")
    after = await asyncio.gather(
        *(read_manifest(target, bundle, c, t, ctx) for c, t in keys), return_exceptions=True
    )
    found: dict[tuple[str, str], str] = {}
    for key, doc_after in zip(keys, after, strict=True):
        if isinstance(doc_after, SourceError | ValueError) or doc_after is None:
            raise FleetSwitchFailed(f"target {target.name}: manifest {key} unreadable after")
        if isinstance(doc_after, BaseException):
            raise doc_after
        found[key] = str(doc_after.get("digest"))
    wrong = [k for k in keys if found[k] != tier_render(done, k[1]).digest]
    if wrong:
        raise FleetSwitchFailed(f"target {target.name}: {wrong[0]} does not serve the digest")
    return found


def _revoked(doc: Mapping[str, Any] | None) -> list[str]:
    found = (doc or {}).get("revoked")
    return [str(d) for d in found] if isinstance(found, list) else []


def _bytes(doc: Mapping[str, Any]) -> bytes:
    return (json.dumps(doc, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode()


def channel_waves(
    inventory: Inventory, only: str | None = None
) -> list[tuple[str, list[str], float]]:
    """(devices target, channels, bake) in the order they switch: each wave names some (its
    ``channels``, else all of the target's); what no wave names switches last."""
    fleets = [t for t in inventory.targets if t.is_devices() and (only is None or t.name == only)]
    order: list[tuple[str, list[str], float]] = []
    done: dict[str, set[str]] = {t.name: set() for t in fleets}
    for wave in inventory.rollout.waves:
        for target in fleets:
            if not any(fnmatchcase(target.name, p) for p in wave.targets):
                continue
            wanted = wave.channels if wave.channels is not None else target.channels
            todo = [c for c in target.channels if c in wanted and c not in done[target.name]]
            if todo:
                order.append((target.name, todo, wave.bake))
                done[target.name].update(todo)
    for target in fleets:
        left = [c for c in target.channels if c not in done[target.name]]
        if left:
            order.append((target.name, left, 0.0))
    return order


def converge_fleets(
    repo_root: Path,
    inventory: Inventory,
    renders: Mapping[str, Rendered],
    environ: Mapping[str, str],
    *,
    only: str | None = None,
    revoke: bool = False,
    say: Callable[[str], None] = lambda line: None,
    environment: EnvironmentRun | None = None,
) -> list[str]:
    """Switch every devices target's manifests to ``renders`` (bundle -> its render for the
    target), wave by wave; one line per switch (each also ``say``-ed at once). Raises on the
    first that cannot switch, or when a gate pauses the waves after it."""
    from ..sources.registry import SourceContext, open_source

    specs = {t.name: t for t in inventory.targets}
    lines = []

    async def run(name: str, channels: list[str]) -> None:
        # the environment run's HTTP pool when there is one (closed with the run, not here)
        ctx = (
            environment.sources if environment else SourceContext(repo_root=repo_root, env=environ)
        )
        try:
            for bundle in inventory.bundles:
                done = renders[bundle]
                await publish(specs[name], done, channels, ctx, open_source, revoke=revoke)
                lines.append(
                    f"{name}: {'/'.join(channels)} manifests of {bundle} switched to "
                    f"{(done.revision or '-')[:7]} ({', '.join(tiers(done))})"
                )
                say(lines[-1])
        finally:
            if environment is None:
                await ctx.close()

    call = environment.call if environment is not None else asyncio.run
    order = channel_waves(inventory, only)
    for index, (name, channels, bake) in enumerate(order):
        call(run(name, channels))
        later = [o for o in order[index + 1 :] if o[0] == name]
        if later and not revoke:  # a rollback is not held by gates
            _bake(inventory, specs[name], renders, channels, bake, environ, call)
    return lines


def _bake(
    inventory: Inventory,
    target: TargetSpec,
    renders: Mapping[str, Rendered],
    channels: list[str],
    bake: float,
    environ: Mapping[str, str],
    call: Callable[[Coroutine[Any, Any, Any]], Any],
) -> None:
    """Wait the wave's bake, then ask its gates per tier; a failure pauses what comes next."""
    import time

    from .fleetgates import FleetPaused, judge_tiers

    if not [g for g in inventory.rollout.analysis if g.reads(target.name)]:
        return
    time.sleep(bake)
    for bundle, done in renders.items():
        failures = judge_tiers(
            inventory, target, bundle, done.revision or "", channels, tiers(done), environ, call
        )
        if failures:
            raise FleetPaused(
                f"target {target.name}: paused after {'/'.join(channels)}: " + "; ".join(failures)
            )


def drive(
    driver: Any,
    revision: str | None,
    only: str | None,
    *,
    revoke: bool = False,
    say: Callable[[str], None] = lambda line: None,
) -> list[str]:
    """:func:`converge_fleets` for a driver's environment, to ``revision`` (None: desired)."""
    inventory = driver.inventory()
    if not any(t.is_devices() for t in inventory.targets):
        return []
    renders = _renders(driver, inventory, revision)
    with driver.run.open():  # one event loop and one HTTP pool for every wave's switch and gates
        return converge_fleets(
            driver.files_root,
            inventory,
            renders,
            driver.environ,
            only=only,
            revoke=revoke,
            say=say,
            environment=driver.run,
        )


def _renders(driver: Any, inventory: Inventory, revision: str | None) -> dict[str, Rendered]:
    """Each bundle's render at ``revision`` (None: the desired one)."""
    from ..bundle.snapshot import snapshot
    from ..statedir import cache_dir

    git = snapshot(
        driver.repo_root, revision or driver.revision, cache_dir(driver.repo_root) / "history.json"
    )
    return {b: git.history(b).desired_render(None) for b in inventory.bundles}


def planned(driver: Any, only: str | None) -> list[str]:
    """What ``converge`` would switch on the devices targets, wave by wave, as lines (its
    ``--dry-run``): nothing is written and no target is read."""
    inventory = driver.inventory()
    order = channel_waves(inventory, only)
    if not order:
        return []
    renders = _renders(driver, inventory, None)
    gated = {
        t.name
        for t in inventory.targets
        if any(g.reads(t.name) for g in inventory.rollout.analysis)
    }
    lines = []
    for index, (name, channels, bake) in enumerate(order):
        later = any(o[0] == name for o in order[index + 1 :])
        for bundle in inventory.bundles:
            done = renders[bundle]
            lines.append(
                f"{name}: would switch the {'/'.join(channels)} manifests of {bundle} to "
                f"{(done.revision or '-')[:7]} ({', '.join(tiers(done))})"
            )
        if later and name in gated:
            lines.append(f"{name}: then would bake {bake:g} s and ask its gates per tier")
    return lines


def is_fleet(driver: Any, name: str | None) -> bool:
    """Whether ``name`` is a devices target of the driver's environment."""
    if name is None:
        return False
    inventory = driver.inventory()
    return any(t.name == name and t.is_devices() for t in inventory.targets)
