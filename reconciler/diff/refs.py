"""``$ref`` resolution for JSON Schema documents by the ``referencing`` library (jsonschema's
own): JSON pointers (``#/$defs/x``), plain-name fragments (``$anchor``) and references to
embedded resources (``$id``, relative ones resolved against the enclosing ``$id``), cycle-safe.
Nothing is retrieved: a reference to another document stays as it is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .keywords import ANNOTATIONS, DEFINITIONS, SCHEMA_LISTS, SCHEMA_MAPS, SCHEMAS
from .values import MISSING

if TYPE_CHECKING:
    from referencing import Resource
    from referencing._core import Resolver as Base  # the type Registry.resolver() returns

#: Where a root without an ``$id`` of its own sits (its relative ``$id``s resolve under it).
ROOT_URI = "https://agent-reconciler.invalid/{}/"
#: What ``referencing`` raises on a schema it cannot read (it assumes well-formed ones: an
#: ``$id`` that is not a string, ``properties`` that is not an object): no target there.
MALFORMED = (AttributeError, TypeError, KeyError, IndexError, ValueError, RecursionError)


class Resolver:
    """Resolves references against the first of its roots that holds the target.

    A tool's schema is its own document (``#/$defs/x`` inside ``parameters``), but some authors
    point from the tool file's root (``#/parameters/$defs/x``), so a tool passes both roots.
    A schema without ``$schema`` is read as draft 2020-12.
    """

    def __init__(self, *roots: Any) -> None:
        self.roots = roots
        #: id() of each (sub-)schema -> the resolver of its base URI; built at the first lookup.
        self._bases: dict[int, Base[Any]] | None = None
        self._starts: list[Base[Any]] = []
        self._made: list[Any] = []  # merged nodes whose ids are in _bases: kept alive

    def _index(self) -> dict[int, Base[Any]]:
        if self._bases is not None:
            return self._bases
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT202012

        resources = [Resource.from_contents(r, DRAFT202012) for r in self.roots]
        registry: Registry[Any] = Registry().with_resources(
            (ROOT_URI.format(n), r) for n, r in enumerate(resources)
        )
        self._bases = {}
        try:
            registry = registry.crawl()  # every $id and $anchor, embedded ones too
            for n, resource in enumerate(resources):
                start = registry.resolver(ROOT_URI.format(n)).in_subresource(resource)
                self._starts.append(start)
                self._walk(resource, start)
        except MALFORMED:  # pointers into the roots as written still resolve
            self._bases.clear()
            self._starts = [registry.resolver(ROOT_URI.format(n)) for n in range(len(resources))]
        return self._bases

    def _walk(self, resource: Resource[Any], base: Base[Any]) -> None:
        assert self._bases is not None
        if isinstance(resource.contents, dict):
            self._bases.setdefault(id(resource.contents), base)
        for sub in resource.subresources():
            self._walk(sub, base.in_subresource(sub))

    def lookup(self, ref: str, node: Any = None) -> tuple[Any, Base[Any] | None]:
        """The schema ``ref`` (written in ``node``) names and the resolver of its base URI, or
        ``(MISSING, None)`` when it is remote or dangling."""
        from referencing.exceptions import Unresolvable

        bases = self._index()
        here = bases.get(id(node)) if node is not None else None
        for base in ([here] if here is not None else []) + self._starts:
            try:
                found = base.lookup(ref)
            except (Unresolvable, *MALFORMED):
                continue
            return found.contents, found.resolver
        return MISSING, None

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
            target, base = self.lookup(ref, node)
            if target is MISSING:
                break
            chain.append(ref)
            siblings = {k: v for k, v in node.items() if k != "$ref"}
            if target is True and not siblings:
                return {}, tuple(chain)
            if not isinstance(target, dict):
                return target, tuple(chain)
            node = {**target, **siblings}
            if base is not None and "$ref" in node:  # its own $ref resolves where it was written
                self._made.append(node)
                self._index()[id(node)] = base
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
