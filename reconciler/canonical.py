"""Canonical JSON and digests (design §7): the one canonicaliser every digest goes through.

A component digest is ``sha256:`` + hex sha256 of Python's
``json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`` in UTF-8.
We pin the stdlib encoder on purpose: faster encoders differ on edge cases (``1e-07`` vs
``1e-7``, integers above 64 bits), and a digest must never depend on which encoder ran.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

#: The ``schema`` of a rendered bundle (design §7): what a target stores and answers with.
RENDERED_SCHEMA = "agent-reconciler.bundle/v1"

_encode = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
).encode


def canonical_bytes(value: Any) -> bytes:
    """The canonical JSON bytes of ``value`` (key order and whitespace never count)."""
    return _encode(value).encode("utf-8")


def digest(value: Any) -> str:
    """``sha256:<hex>`` of the canonical JSON of ``value``."""
    return "sha256:" + hashlib.sha256(canonical_bytes(value)).hexdigest()


def bundle_digest(component_digests: Mapping[str, str]) -> str:
    """The digest of a set of components: one ``"<key> <digest>\\n"`` line per key, sorted."""
    text = "".join(f"{key} {component_digests[key]}\n" for key in sorted(component_digests))
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def component_digests(components: Mapping[str, Any]) -> dict[str, str]:
    """Digest every component of a rendered bundle."""
    return {key: digest(value) for key, value in components.items()}
