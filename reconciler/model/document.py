"""What one target serves, parsed and digested (pure): raw bytes in, components out.

The target's own ``digest``, ``component_digests`` and ``revision`` are read only to warn when
they disagree with the content; every digest used to classify is recomputed here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..canonical import RENDERED_SCHEMA, component_digests


class InvalidDocument(Exception):
    """The body is not a valid rendered bundle; ``str()`` says why in one line."""


@dataclass(frozen=True, slots=True)
class Document:
    """A parsed rendered bundle with digests recomputed from its components."""

    name: str
    components: dict[str, Any]
    digests: dict[str, str]
    stated_digests: dict[str, Any] | None
    stated_revision: str | None

    def misstated(self) -> list[str]:
        """Components whose stated digest disagrees with the content (a lying target)."""
        if not isinstance(self.stated_digests, dict):
            return []
        return sorted(
            key
            for key, stated in self.stated_digests.items()
            if key in self.digests and stated != self.digests[key]
        )


def _loads(raw: bytes) -> Any:
    import orjson

    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if "integer" not in str(exc).lower():
            raise
        return json.loads(raw)  # integers beyond 64 bits: the stdlib reads them


def parse(raw: bytes) -> Document:
    """Parse one body; InvalidDocument when it is not a rendered bundle."""
    try:
        data = _loads(raw)
    except ValueError as exc:
        raise InvalidDocument(f"not JSON ({str(exc).splitlines()[0][:80]})") from None
    if not isinstance(data, dict):
        raise InvalidDocument("not a rendered bundle (expected a JSON object)")
    schema = data.get("schema")
    if schema != RENDERED_SCHEMA:
        raise InvalidDocument(f"not a rendered bundle (schema is {str(schema)[:60]!r})")
    name = data.get("name")
    components = data.get("components")
    if not isinstance(name, str):
        raise InvalidDocument("rendered bundle without a 'name'")
    if not isinstance(components, dict):
        raise InvalidDocument("rendered bundle without a 'components' object")
    try:
        digests = component_digests(components)
    except ValueError as exc:  # NaN or infinity cannot be canonical JSON
        raise InvalidDocument(f"components cannot be digested: {exc}") from None
    revision = data.get("revision")
    return Document(
        name=name,
        components=components,
        digests=digests,
        stated_digests=data.get("component_digests"),
        stated_revision=revision if isinstance(revision, str) else None,
    )
