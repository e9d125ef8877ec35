"""A devices target's manifests (design §13): one document per channel and device tier, each
kept by an ordinary ``file``, ``http`` or ``s3`` source. A manifest is a part of its own, named
``<target>/<channel>/<tier>``, so staging and switching (§12) treat them as one group."""

from __future__ import annotations

from typing import Any

from ..errors import ConfigError
from ..model.manifests import manifest_key

#: Which key of each manifest source type holds the template.
_TEMPLATE_KEY = {"s3": "key", "file": "path", "http": "url"}


def part_name(target: str, channel: str, tier: str) -> str:
    """The name one manifest goes by in a rollout (no target name holds a '/')."""
    return f"{target}/{channel}/{tier}"


def manifest_part(target: Any, bundle: str, channel: str, tier: str) -> Any:
    """``target`` as the plain target that keeps its ``channel``/``tier`` manifest of ``bundle``."""
    spec = target.manifest
    if spec is None:
        raise ConfigError(f"target {target.name}: not a devices target (no manifest:)")
    field = _TEMPLATE_KEY[spec.type]
    filled = manifest_key(getattr(spec, field), bundle, channel, tier)
    source = spec.model_copy(update={field: filled})
    return target.model_copy(
        update={
            "name": part_name(target.name, channel, tier),
            "kind": "other",
            "source": source,
            "manifest": None,
            "telemetry": None,
            "group": target.name,
            "health": None,
        }
    )
