"""A ``devices`` target (design §13, contract): written through its manifests, one per channel
and device tier, and observed through its telemetry (active devices per tier and digest)."""

from __future__ import annotations

from collections.abc import Sequence, Set
from fnmatch import fnmatchcase
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, field_validator
from pydantic_core import PydanticCustomError

from .canary import parse_percent
from .duration import Duration
from .gates import MAX_QUERY, PrometheusSpec
from .manifests import MANIFEST_PLACEHOLDERS, MANIFEST_SCHEMA, check_manifest_key, manifest_key
from .names import check_name

__all__ = [
    "MANIFEST_PLACEHOLDERS",
    "MANIFEST_SCHEMA",
    "AdoptionSpec",
    "TelemetrySpec",
    "check_kind",
    "check_manifest_key",
    "check_wave_channels",
    "manifest_key",
]

#: An adoption target as the JSON Schema of targets/<env>.yaml spells it.
ADOPTION_SCHEMA = {
    "anyOf": [
        {"type": "string", "pattern": r"^\s*\d+(\.\d+)?\s*%\s*$"},
        {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
    ],
    "description": "a share of a tier's active devices: '90%' or a fraction in (0, 1]",
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)


def parse_adoption(value: object) -> float:
    """An adoption target: a share in (0, 100%]."""
    share = parse_percent(value, "an adoption target")
    if not 0.0 < share <= 1.0:
        raise ValueError(f"adoption target {value!r} must be above 0% and at most 100%")
    return share


class TelemetrySpec(_Strict):
    """Where a devices target's effective config is read: one Prometheus instant query whose
    answer has one series per ``tier`` and ``digest`` label, valued by active devices."""

    prometheus: PrometheusSpec
    query: str = Field(min_length=1, max_length=MAX_QUERY)


class AdoptionSpec(_Strict):
    """How much of each tier should run the desired digest, and how soon after its manifest
    switched. Observed, never awaited: a rollout does not wait for devices."""

    target: Annotated[float, WithJsonSchema(ADOPTION_SCHEMA)] = 0.9
    within: Duration = 7 * 86400.0

    @field_validator("target", mode="before")
    @classmethod
    def _target(cls, value: object) -> float:
        return parse_adoption(value)


def check_channels(value: list[str]) -> list[str]:
    """Channel names are plain names, each listed once."""
    for name in value:
        check_name(name, "channel")
    if len(set(value)) != len(value):
        raise ValueError("a channel is listed twice")
    return value


def check_wave_channels(waves: Sequence[Any], targets: Sequence[Any]) -> None:
    """A wave's ``channels`` are channels of the devices targets it names: a misspelt one
    would switch nothing in its wave, and its channel would go out with the last."""
    for index, wave in enumerate(waves):
        if wave.channels is None:
            continue
        named = [
            t
            for t in targets
            if t.is_devices() and any(fnmatchcase(t.name, p) for p in wave.targets)
        ]
        known = sorted({c for t in named for c in t.channels})
        unknown = [c for c in wave.channels if c not in known]
        at = ("rollout", "waves", index, "channels")
        if not named:
            raise PydanticCustomError(
                "wave_channels",
                "wave '{wave}' lists channels but names no devices target",
                {"wave": wave.name, "at": at},
            )
        if unknown:
            raise PydanticCustomError(
                "wave_channels",
                "wave '{wave}': '{channel}' is no channel of the devices targets it names "
                "({known})",
                {"wave": wave.name, "channel": unknown[0], "known": ", ".join(known), "at": at},
            )


def check_kind(target: Any, given: Set[str]) -> None:
    """A devices target has a manifest and telemetry and no source; any other has a source
    and none of the devices keys. ``given``: the keys the file set."""
    devices_only = ("manifest", "telemetry", "min_supported")
    if target.kind != "devices":
        if target.source is None:
            raise ValueError("needs a source: (only a devices target has none)")
        named = [key for key in devices_only if getattr(target, key) is not None]
        named += [key for key in ("channels", "adoption") if key in given]
        if named:
            raise ValueError(f"{', '.join(named)}: only a target of kind devices has these")
        return
    if target.source is not None:
        raise ValueError("a devices target has no source: it is written through manifest:")
    if target.manifest is None or target.telemetry is None:
        raise ValueError("a devices target needs manifest: and telemetry:")
    if target.group is not None:
        raise ValueError("a devices target's manifests are a group of their own: no group:")
    named = [key for key in ("health", "probe", "outputs") if getattr(target, key) is not None]
    if named:
        raise ValueError(f"{', '.join(named)}: a devices target is observed by its telemetry")
    template = target.manifest_template()
    if len(target.channels) > 1 and "{channel}" not in template:
        raise ValueError(
            f"the manifest key {template!r} has no {{channel}}, but the target has "
            f"{len(target.channels)} channels ({', '.join(target.channels)})"
        )
