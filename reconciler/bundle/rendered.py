"""A rendered bundle as plain data (design §7), and where a bundle's files live in the repo.

Apart from :mod:`.render` (which reads YAML and validates the bundle with pydantic), so what a
rendered document *is* costs nothing to import: an audit that finds its renders in the cache
never loads the renderer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ..canonical import RENDERED_SCHEMA, bundle_digest, component_digests
from ..errors import ConfigError


@dataclass(frozen=True, slots=True)
class Rendered:
    """A rendered bundle: components, their digests, the bundle digest."""

    name: str
    revision: str | None
    components: dict[str, Any]
    digests: dict[str, str] = field(default_factory=dict)
    digest: str = ""

    @classmethod
    def build(cls, name: str, revision: str | None, components: dict[str, Any]) -> Rendered:
        digests = component_digests(components)
        return cls(name, revision, components, digests, bundle_digest(digests))

    @classmethod
    def known(
        cls, name: str, revision: str | None, components: dict[str, Any], digests: dict[str, str]
    ) -> Rendered:
        """:meth:`build`, with the component digests already computed (once per blob)."""
        return cls(name, revision, components, digests, bundle_digest(digests))

    def to_json(self) -> dict[str, Any]:
        """The contract document (design §7)."""
        return {
            "schema": RENDERED_SCHEMA,
            "name": self.name,
            "revision": self.revision,
            "digest": self.digest,
            "components": self.components,
            "component_digests": self.digests,
        }

    def to_bytes(self) -> bytes:
        """The document as sources store it (UTF-8 JSON, keys sorted, readable)."""
        text = json.dumps(self.to_json(), sort_keys=True, indent=2, ensure_ascii=False)
        return (text + "\n").encode("utf-8")


def deep_merge(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    """Mappings merge key by key; anything else in the overlay replaces the base value."""
    merged = dict(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def prompt_component(raw: bytes, path: str) -> dict[str, Any]:
    """A prompt file's component: its text."""
    try:
        return {"text": raw.decode("utf-8")}
    except UnicodeDecodeError:
        raise ConfigError("not valid UTF-8 text", file=path) from None


def check_tool(value: dict[str, Any], path: str) -> dict[str, Any]:
    """A tool file's object, refused when it lacks a name or its arguments' JSON Schema."""
    if not isinstance(value.get("name"), str):
        raise ConfigError("a tool file needs a string 'name'", file=path, line=1)
    schema = value.get("parameters", value.get("input_schema"))
    if not isinstance(schema, dict):
        raise ConfigError(
            "a tool file needs its arguments' JSON Schema under 'parameters' or 'input_schema'",
            file=path,
            line=1,
        )
    return value


def bundle_dir(bundle: str) -> str:
    """The bundle's folder in the repo."""
    return f"bundles/{bundle}"


def overlay_path(bundle: str, target: str) -> str:
    """Where a target's overlay for a bundle lives."""
    return f"{bundle_dir(bundle)}/overlays/{target}.yaml"
