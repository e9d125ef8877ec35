"""YAML values without line numbers, for rendering history: ruamel's safe loader on libyaml (C).

About six times faster than the round-trip loader, and bounded alike (size, depth, alias
expansion, finite numbers). Whatever it cannot read exactly as :func:`~.yamlfile.parse` does, or
refuses, is read again by the round-trip loader, which gives the same values or the same error
at ``file:line``: the fast path never changes what a file means, only how soon it is known.
"""

from __future__ import annotations

import functools
from typing import Any

from ..errors import ConfigError
from ..limits import MAX_DEPTH, MAX_YAML
from .yamlfile import check_size, check_tree, parse, plain


@functools.cache
def _c_parser() -> Any:
    """ruamel's libyaml parser class, or None where its C extension is not installed."""
    try:
        from ruamel.yaml.clib._ruamel_yaml import CParser  # type: ignore[import-not-found]
    except ImportError:
        try:
            from _ruamel_yaml import CParser  # type: ignore[import-not-found]
        except ImportError:
            return None
    return CParser


def fast() -> bool:
    """Whether the C loader is available here (else :func:`values` is the round-trip loader)."""
    return _c_parser() is not None


def _depth(text: str) -> int:
    """The deepest nesting of ``text``'s collections, from libyaml's event stream.

    libyaml's composer recurses in C once per level: a file a hundred thousand levels deep would
    overflow the C stack. Its parser does not recurse, so the depth is measured first.
    """
    from ruamel.yaml import events

    opens = (events.MappingStartEvent, events.SequenceStartEvent)
    closes = (events.MappingEndEvent, events.SequenceEndEvent)
    parser = _c_parser()(text)
    depth = deepest = 0
    while True:
        event = parser.get_event()
        if event is None or isinstance(event, events.StreamEndEvent):
            return deepest
        if isinstance(event, opens):
            depth += 1
            deepest = max(deepest, depth)
            if deepest > MAX_DEPTH:
                return deepest
        elif isinstance(event, closes):
            depth -= 1


def values(text: str, file: str) -> Any:
    """The plain values of YAML ``text`` (as ``plain(parse(text, file))``), bounded alike."""
    check_size(text, MAX_YAML, file)
    if not fast():
        return plain(parse(text, file))
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        if _depth(text) > MAX_DEPTH:
            return plain(parse(text, file))  # refused there, at its line
        root = YAML(typ="safe").load(text)
        check_tree(root, file)
    except (YAMLError, ValueError, RecursionError, ConfigError):
        # libyaml reads a little less than ruamel (``{url: http://x}``), and its errors have no
        # lines: the round-trip loader decides, and says where.
        return plain(parse(text, file))
    return plain(root)
