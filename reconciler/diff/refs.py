"""Local ``$ref`` resolution for JSON Schema documents (``#/definitions/x``, ``#/$defs/x``, any
``#/json/pointer``), cycle-safe; remote references are left as they are.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from .keywords import ANNOTATIONS, DEFINITIONS, SCHEMA_LISTS, SCHEMA_MAPS, SCHEMAS
from .values import MISSING


def pointer(root: Any, ref: str) -> Any:
    """The value ``ref`` (``#`` or ``#/a/b``) points at inside ``root``, or ``MISSING``."""
    if not ref.startswith("#"):
        return MISSING
    fragment = unquote(ref[1:])
    if not fragment:
        return root
    if not fragment.startswith("/"):
        return MISSING  # a plain-name fragment ($anchor): not resolved yet
    node = root
    for raw in fragment[1:].split("/"):
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return MISSING
    return node


class Resolver:
    """Resolves local references against the first of its roots that holds the target.

    A tool's schema is its own document (``#/$defs/x`` inside ``parameters``), but some authors
    point from the tool file's root (``#/parameters/$defs/x``), so a tool passes both roots.
    """

    def __init__(self, *roots: Any) -> None:
        self.roots = roots

    def lookup(self, ref: str) -> Any:
        """The schema ``ref`` names, or ``MISSING`` when it is remote or dangling."""
        for root in self.roots:
            found = pointer(root, ref)
            if found is not MISSING:
                return found
        return MISSING

    def resolve(self, node: Any) -> tuple[Any, tuple[str, ...]]:
        """``node`` with its ``$ref`` chain followed, and the references followed.

        Keywords beside a ``$ref`` apply too (2019-09 and later), so they are merged over the
        target. A chain that comes back to a reference it already followed stops there.
        """
        chain: list[str] = []
        while isinstance(node, dict) and isinstance(node.get("$ref"), str):
            ref = node["$ref"]
            if ref in chain:
                break
            target = self.lookup(ref)
            if target is MISSING:
                break
            chain.append(ref)
            siblings = {k: v for k, v in node.items() if k != "$ref"}
            if target is True and not siblings:
                return {}, tuple(chain)
            if not isinstance(target, dict):
                return target, tuple(chain)
            node = {**target, **siblings}
        return node, tuple(chain)

    def expand(self, node: Any, strip: frozenset[str] = ANNOTATIONS) -> Any:
        """``node`` with every resolvable reference inlined and the ``strip`` keywords (and
        definitions) dropped: what a reader or validator sees, for comparing two sub-schemas.
        A reference back into its own expansion stays a ``{"$ref": ...}``."""
        return self._expand(node, strip, ())

    def _expand(self, node: Any, strip: frozenset[str], active: tuple[str, ...]) -> Any:
        if isinstance(node, list):
            return [self._expand(item, strip, active) for item in node]
        if not isinstance(node, dict):
            return node
        if isinstance(node.get("$ref"), str) and node["$ref"] in active:
            return {"$ref": node["$ref"]}
        resolved, chain = self.resolve(node)
        if not isinstance(resolved, dict):
            return resolved
        inner = active + chain
        out: dict[str, Any] = {}
        for key, value in resolved.items():
            if key in strip or key in DEFINITIONS:
                continue
            if key in SCHEMAS or (key in SCHEMA_LISTS and isinstance(value, list)):
                out[key] = self._expand(value, strip, inner)
            elif key in SCHEMA_MAPS and isinstance(value, dict):
                out[key] = {k: self._expand(v, strip, inner) for k, v in value.items()}
            else:
                out[key] = value  # enum, const, required, bounds: data, not schemas
        return out
