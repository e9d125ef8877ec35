"""Device tiers (design §13): a tier's render is the rendered bundle with the ``model``
component's ``variants`` cut down to that tier's own, so one tier's artifact change moves only
that tier's digest. Pure: rendered bundles in, rendered bundles out.
"""

from __future__ import annotations

from typing import Any

from ..canonical import digest
from ..errors import ConfigError
from .rendered import Rendered


def tiers(done: Rendered) -> list[str]:
    """The device tiers the render declares (``model.variants``), sorted; empty when none."""
    variants = _variants(done.components)
    return sorted(variants) if isinstance(variants, dict) else []


def tier_render(done: Rendered, tier: str) -> Rendered:
    """``done`` as the devices of ``tier`` see it: only that tier's variant in ``model``."""
    variants = _variants(done.components)
    if not isinstance(variants, dict) or tier not in variants:
        declared = ", ".join(tiers(done)) or "none"
        raise ConfigError(
            f"bundle {done.name!r} has no device tier {tier!r} (model.variants: {declared})"
        )
    model = {**done.components["model"], "variants": {tier: variants[tier]}}
    components = {**done.components, "model": model}
    digests = {**done.digests, "model": digest(model)} if done.digests else None
    if digests is None:
        return Rendered.build(done.name, done.revision, components)
    return Rendered.known(done.name, done.revision, components, digests)


def tier_digests(done: Rendered) -> dict[str, str]:
    """Each declared tier's render digest."""
    return {tier: tier_render(done, tier).digest for tier in tiers(done)}


def _variants(components: dict[str, Any]) -> Any:
    model = components.get("model")
    return model.get("variants") if isinstance(model, dict) else None


def manifest(
    done: Rendered,
    tier: str,
    channel: str,
    *,
    min_supported: str | None = None,
    revoked: list[str] | None = None,
) -> dict[str, Any]:
    """The manifest the ``channel`` devices of ``tier`` poll (design §13, contract)."""
    from ..model.manifests import MANIFEST_SCHEMA

    mine = tier_render(done, tier)
    return {
        "schema": MANIFEST_SCHEMA,
        "bundle": done.name,
        "digest": mine.digest,
        "revision": done.revision,
        "channel": channel,
        "tier": tier,
        "model": mine.components["model"]["variants"][tier],
        "components": mine.components,
        "min_supported": min_supported,
        "revoked": sorted(set(revoked or [])),
    }
