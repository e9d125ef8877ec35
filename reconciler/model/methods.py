"""The methods a validated model (:mod:`.inventory`, :mod:`.gates`) and its plain reading
(:mod:`.plain`) share, written once and without pydantic, so that the read-only commands' cold
path stays free of it. Each class is a mixin: it holds no state, only reads the fields its
docstring names."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any

#: What a source type can hold at most: a prompt registry prompts, a flag platform flags.
SOURCE_CARRIES: Mapping[str, tuple[str, ...]] = {"mlflow": ("prompt/*",), "unleash": ("flag/*",)}


def _named(name: str, patterns: Sequence[str]) -> bool:
    return any(fnmatchcase(name, pattern) for pattern in patterns)


class TargetMethods:
    """Of a target: ``source`` (with a ``type``) and ``carries`` (``"all"`` or globs)."""

    __slots__ = ()

    if TYPE_CHECKING:
        source: Any
        carries: Any
        kind: str
        manifest: Any

    def is_devices(self) -> bool:
        """Whether this is a device fleet (design §13): manifests out, telemetry in."""
        return self.manifest is not None

    def manifest_template(self) -> str:
        """A devices target's manifest key, path or URL, placeholders unfilled ("" if none)."""
        spec = self.manifest
        if spec is None:
            return ""
        template: str = getattr(spec, {"s3": "key", "file": "path"}.get(spec.type, "url"))
        return template

    def carries_signature(self) -> tuple[object, ...]:
        """Equal for two targets exactly when they carry the same components of any bundle."""
        limit = SOURCE_CARRIES.get(self.source.type) if self.source is not None else None
        carries = self.carries if isinstance(self.carries, str) else tuple(self.carries)
        return (limit, carries)

    def carries_component(self, key: str) -> bool:
        """Whether this target holds component ``key`` (e.g. ``prompt/system``)."""
        limit = SOURCE_CARRIES.get(self.source.type) if self.source is not None else None
        if limit is not None and not _named(key, limit):
            return False
        return self.carries == "all" or _named(key, self.carries)


class RuleMethods:
    """Of an ignore rule: ``targets`` and ``components`` (globs), ``expires`` (a date or None)."""

    __slots__ = ()

    if TYPE_CHECKING:
        targets: list[str]
        components: list[str]
        expires: dt.date | None

    def expired(self, today: dt.date) -> bool:
        """After ``expires`` the rule stops applying (and the audit says so)."""
        return self.expires is not None and today > self.expires

    def names_target(self, target: str) -> bool:
        """Whether the rule applies to ``target`` at all."""
        return _named(target, self.targets)

    def matches(self, target: str, component: str) -> bool:
        """Whether the rule covers this target's component."""
        return self.names_target(target) and _named(component, self.components)


class GateMethods:
    """Of an analysis gate: ``targets`` (globs), ``min`` and ``max`` (or None)."""

    __slots__ = ()

    if TYPE_CHECKING:
        targets: list[str]
        min: float | None
        max: float | None

    def reads(self, target: str) -> bool:
        """Whether this gate is evaluated for ``target``."""
        return _named(target, self.targets)

    def bounds(self) -> str:
        """``max 0.02``, ``min 0.9`` or ``min 0.1, max 0.9``, for messages."""
        parts = [f"{k} {v:g}" for k, v in (("min", self.min), ("max", self.max)) if v is not None]
        return ", ".join(parts)


class PolicyMethods:
    """Of a rollout policy: ``waves`` (each with ``targets`` and ``bake``) and
    ``progress_deadline`` (seconds)."""

    __slots__ = ()

    if TYPE_CHECKING:
        waves: Sequence[Any]
        progress_deadline: float

    def wave_index(self, target: str) -> int | None:
        """The first wave whose globs name ``target`` (None when no wave does)."""
        for index, wave in enumerate(self.waves):
            if _named(target, wave.targets):
                return index
        return None

    def stall_after(self, target: str) -> float:
        """Seconds a target may lag before it is stalled: the deadline plus earlier waves' bakes."""
        index = self.wave_index(target)
        earlier = self.waves[:index] if index is not None else self.waves
        return self.progress_deadline + float(sum(wave.bake for wave in earlier))
