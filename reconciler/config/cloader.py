"""ruamel's safe loader on libyaml, built once, for :func:`~.yamlfile.values`: what it reads
equals ``YAML(typ="safe").load``, sooner.

- ``YAML.load`` makes its loader class anew at every call (a tenth of a millisecond, most of a
  small file's load); the history reads hundreds of small blobs.
- libyaml's composer recurses in C once per level (a file a hundred thousand levels deep would
  overflow the C stack) and tells the resolver each level it enters: past
  :data:`~reconciler.limits.MAX_DEPTH` the load stops there with a ``RecursionError``, and the
  round-trip loader refuses the file at its line.
- Plain mappings with string keys, sequences and strings are built straight from the composed
  nodes, each plain scalar's type resolved once per load; anything else (numbers, dates,
  merge keys, tags, a repeated key) is ruamel's own constructor's, which decides and raises as
  before. Aliases stay one shared object (the bounds count expanded aliases by identity).
"""

from __future__ import annotations

import functools
from typing import Any

from ..limits import MAX_DEPTH

STR = "tag:yaml.org,2002:str"
SEQ = "tag:yaml.org,2002:seq"
MAP = "tag:yaml.org,2002:map"


@functools.cache
def c_parser() -> Any:
    """ruamel's libyaml parser class, or None where its C extension is not installed."""
    try:
        from ruamel.yaml.clib._ruamel_yaml import CParser  # type: ignore[import-not-found]
    except ImportError:
        try:
            from _ruamel_yaml import CParser  # type: ignore[import-not-found]
        except ImportError:
            return None
    return CParser


@functools.cache
def safe_loader() -> type:
    """The loader class: ``loader = safe_loader()(text)``, ``loader.get_single_data()``, then
    ``loader.dispose()``."""
    from ruamel.yaml.constructor import SafeConstructor
    from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode

    parser: Any = c_parser()
    resolver: Any = _resolver_12()

    class SafeCLoader(parser, SafeConstructor, resolver):  # type: ignore[misc]
        def __init__(self, stream: str) -> None:
            parser.__init__(self, stream)
            self._parser = self._composer = self
            SafeConstructor.__init__(self, loader=self)
            self.allow_duplicate_keys = False  # as YAML(): a repeated key is an error
            resolver.__init__(self, version=None, loadumper=self)
            self._level = 0
            self._plain_tags: dict[str, Any] = {}
            #: Whether every collection was built here and no alias was used: what was read is
            #: then plain data already (no shared object, string keys), as ``plain`` would copy it.
            self.plain_only = True

        def descend_resolver(self, parent: Any, index: Any) -> None:
            self._level += 1  # every node, a scalar at the bottom too
            if self._level > MAX_DEPTH + 1:
                raise RecursionError("YAML nested too deep")

        def ascend_resolver(self) -> None:
            self._level -= 1

        def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
            # A plain scalar's tag follows from its text alone (no path resolvers here).
            if kind is ScalarNode and implicit[0]:
                tag = self._plain_tags.get(value)
                if tag is None:
                    tag = self._plain_tags[value] = super().resolve(kind, value, implicit)
                return tag
            return super().resolve(kind, value, implicit)

        def construct_document(self, node: Any) -> Any:
            self._build(node)  # then ruamel's finds it built (or builds what is left)
            return super().construct_document(node)

        def _build(self, node: Any) -> Any:
            built = self.constructed_objects
            if node in built:
                self.plain_only = False
                return built[node]  # an alias: the same object
            kind, tag = type(node), str(node.ctag)
            if kind is ScalarNode and tag == STR:
                return node.value
            if kind is SequenceNode and tag == SEQ:
                items: list[Any] = []
                built[node] = items
                items.extend([self._build(child) for child in node.value])
                return items
            if kind is MappingNode and tag == MAP and _string_keys(node.value):
                mapping: dict[str, Any] = {}
                built[node] = mapping
                for key_node, value_node in node.value:
                    if key_node.value in mapping:
                        del built[node]  # ruamel's constructor raises its error
                        break
                    mapping[key_node.value] = self._build(value_node)
                else:
                    return mapping
            if kind is not ScalarNode:
                self.plain_only = False
            return self.construct_object(node, deep=True)

    def _string_keys(pairs: list[tuple[Any, Any]]) -> bool:
        return all(type(k) is ScalarNode and str(k.ctag) == STR for k, _ in pairs)

    return SafeCLoader


@functools.cache
def _resolver_12() -> type:
    """ruamel's resolver for YAML 1.2 documents, with its rules picked once per load.

    The stock one looks up which YAML version is being read for every scalar (an attribute
    chain with two caught exceptions, 40% of a safe load); :func:`~.yamlfile.values` reads only
    documents without a ``%YAML`` directive, which are 1.2 throughout.
    """
    from ruamel.yaml.resolver import VersionedResolver

    class Resolver12(VersionedResolver):
        @property
        def versioned_resolver(self) -> Any:
            rules = self._version_implicit_resolver.get((1, 2))
            if rules is None:
                rules = VersionedResolver.versioned_resolver.fget(self)  # type: ignore[attr-defined]
            return rules

    return Resolver12
