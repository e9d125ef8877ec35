"""Device manifests' names (design §13): their schema, and the key each channel and tier's
manifest is kept under. No pydantic: the audit's cold path reads these."""

from __future__ import annotations

#: What a manifest key may name; ``{tier}`` is needed when the bundle has several tiers.
MANIFEST_PLACEHOLDERS = ("{bundle}", "{channel}", "{tier}")
#: The ``schema`` of a device manifest (design §13).
MANIFEST_SCHEMA = "agent-reconciler.device-manifest/v1"


def manifest_key(template: str, bundle: str, channel: str, tier: str) -> str:
    """A manifest's key, path or URL with its placeholders filled in."""
    return (
        template.replace("{bundle}", bundle).replace("{channel}", channel).replace("{tier}", tier)
    )


def check_manifest_key(template: str, tiers: list[str]) -> str | None:
    """Why ``template`` cannot hold one manifest per tier and channel (None when it can)."""
    if len(tiers) > 1 and "{tier}" not in template:
        return (
            f"the manifest key {template!r} has no {{tier}}, but the bundle has "
            f"{len(tiers)} tiers ({', '.join(tiers)}): every tier would write one manifest"
        )
    return None
