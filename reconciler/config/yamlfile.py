"""YAML in, plain data out, with every error pointing at ``file:line``.

ruamel.yaml's round-trip loader (:func:`parse`) keeps the position of every key, for the
errors that must name a line.

Every file is bounded before anything converts or validates it (design §11): its size
(:data:`~reconciler.limits.MAX_YAML`), its depth (:data:`~reconciler.limits.MAX_DEPTH`, also
with aliases expanded) and the number of nodes its aliases expand to
(:data:`~reconciler.limits.MAX_YAML_NODES`).

Where no line is needed (a file that validates, a past revision's render), :func:`values` reads
with ruamel's safe loader on libyaml (:mod:`.cloader`: built once, bounded as it composes),
several times sooner, and falls back to the round trip for anything it reads otherwise,
refuses, or would have to blame.

Validating what was read, with the line to blame, is :mod:`.validation`; keeping what
validated by its text's hash is :mod:`.modelcache`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator
from typing import Any

from ..errors import ConfigError
from ..limits import MAX_DEPTH, MAX_YAML, MAX_YAML_NODES, size_text
from .cloader import c_parser, safe_loader


def check_size(data: bytes | str | int, limit: int, file: str) -> None:
    """Refuse a file (its bytes, its text, or its size) over ``limit`` bytes before parsing it."""
    size = data if isinstance(data, int) else len(data)
    if isinstance(data, str) and size * 4 > limit:
        size = len(data.encode("utf-8", "surrogatepass"))
    if size > limit:
        raise ConfigError(f"file is larger than {size_text(limit)} ({size} bytes)", file=file)


def parse(text: str, file: str) -> Any:
    """Parse YAML text into ruamel's round-trip nodes (which remember line numbers).

    The result is bounded: at most :data:`MAX_YAML` bytes in, :data:`MAX_DEPTH` levels deep and
    :data:`MAX_YAML_NODES` nodes with every alias expanded, and no infinite or NaN number.
    """
    from ruamel.yaml import YAML
    from ruamel.yaml.composer import MaxDepthExceededError
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    check_size(text, MAX_YAML, file)
    yaml = YAML(typ="rt")
    yaml.max_depth = MAX_DEPTH + 1  # ruamel counts the scalar at the bottom as a level
    yaml.Scanner = _bounded_scanner(yaml.Scanner)
    try:
        root = yaml.load(text)
    except MaxDepthExceededError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark is not None else None
        raise ConfigError(_too_deep(), file=file, line=line) from None
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = (exc.problem or exc.context or "invalid YAML").strip()
        raise ConfigError(f"invalid YAML: {problem}", file=file, line=line) from None
    except YAMLError as exc:
        raise ConfigError(f"invalid YAML: {str(exc).splitlines()[0]}", file=file) from None
    except RecursionError:  # a ruamel without max_depth: still one line, never a traceback
        raise ConfigError(_too_deep(), file=file) from None
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        raise ConfigError(f"invalid YAML: {str(exc).split(':')[0]}", file=file) from None
    check_tree(root, file)
    return root


def fast() -> bool:
    """Whether the C loader is available here (else :func:`values` is the round-trip loader)."""
    return c_parser() is not None


def values(text: str, file: str) -> Any:
    """The plain values of YAML ``text``, as ``plain(parse(text, file))`` gives them (or its
    error), about six times sooner: ruamel's safe loader on libyaml, bounded alike.

    What libyaml reads otherwise or refuses is read again by the round-trip loader: a
    ``%YAML`` directive (libyaml's safe loader keeps to YAML 1.2 where ruamel honours 1.1),
    ``{url: http://x}``, a custom tag, and anything past a bound (refused there, at its line).
    """
    check_size(text, MAX_YAML, file)
    if not fast() or "%YAML" in text:
        return plain(parse(text, file))
    from ruamel.yaml.error import YAMLError

    try:
        loader = safe_loader()(text)
        try:
            root = loader.get_single_data()
        finally:
            loader.dispose()
        check_tree(root, file)
    except (YAMLError, ValueError, RecursionError, ConfigError):
        # libyaml's errors have no lines: the round-trip loader decides, and says where.
        return plain(parse(text, file))
    return root if loader.plain_only else plain(root)


def _too_deep() -> str:
    return f"YAML nested deeper than {MAX_DEPTH} levels"


@functools.cache
def _bounded_scanner(base: Any) -> type:
    """``base`` refusing flow collections (``[[[...``) more than :data:`MAX_DEPTH` deep.

    The scanner reads a whole flow collection ahead, in time quadratic in its depth (3,000
    levels: 1.5 s), before the composer's ``max_depth`` sees the first level.
    """
    from ruamel.yaml.composer import MaxDepthExceededError

    def fetch_flow_collection_start(self: Any, token_class: Any, to_push: Any) -> None:
        if len(self.flow_context) >= MAX_DEPTH:
            raise MaxDepthExceededError(None, None, _too_deep(), self.reader.get_mark())
        base.fetch_flow_collection_start(self, token_class, to_push)

    return type(
        f"Bounded{base.__name__}",
        (base,),
        {"fetch_flow_collection_start": fetch_flow_collection_start},
    )


def _containers(node: Any) -> Iterator[tuple[Any, Any]]:
    """``(key or index, child)`` of a mapping or sequence, as :func:`plain` walks them."""
    if isinstance(node, dict):
        yield from node.items()
    elif isinstance(node, list):
        yield from enumerate(node)


def _line_in(parent: Any, key: Any) -> int | None:
    """The line where ``parent`` holds ``key`` (an alias: where it is used, for a mapping)."""
    lc = getattr(parent, "lc", None)
    if lc is None:
        return None
    try:
        row = lc.key(key) if isinstance(parent, dict) else lc.item(key)
        return int(row[0]) + 1
    except (KeyError, IndexError, TypeError, AttributeError):
        return int(lc.line) + 1 if lc.line is not None else None


def check_tree(root: Any, file: str) -> None:
    """Refuse a loaded tree whose aliases expand past the node budget or the depth limit.

    Aliases share one object, so loading is cheap; what blows up is expanding them
    (:func:`plain`, pydantic). Sizes and depths are computed once per distinct object (a memo
    by ``id``), so a billion laughs costs a few dozen steps. Numbers must be finite: JSON has no
    NaN or infinity, and a rendered bundle is JSON.
    """
    if not isinstance(root, dict | list):
        return
    #: id -> (nodes, depth) of the expanded subtree; nodes saturate past the budget.
    done: dict[int, tuple[int, int]] = {}
    uses: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        if finished:
            on_path.discard(key)
            nodes, depth = 1, 0
            for at, child in _containers(node):
                nodes += 1 if isinstance(node, dict) else 0  # the key itself
                if isinstance(child, dict | list):
                    child_nodes, child_depth = done[id(child)]
                    nodes += child_nodes
                    depth = max(depth, child_depth)
                else:
                    nodes += 1
                    if isinstance(child, float) and not math.isfinite(child):
                        raise ConfigError(
                            f"{child} is not a number JSON can hold (no NaN or infinity)",
                            file=file,
                            line=_line_in(node, at),
                        )
            done[key] = (min(nodes, MAX_YAML_NODES + 1), depth + 1)
            continue
        if key in done:
            continue
        on_path.add(key)
        stack.append((node, True))
        for at, child in _containers(node):
            if isinstance(child, dict | list):
                uses[id(child)] = uses.get(id(child), 0) + 1
                if id(child) in on_path:
                    raise ConfigError(
                        "a YAML alias refers to a node that holds it",
                        file=file,
                        line=_line_in(node, at),
                    )
                if id(child) not in done:
                    stack.append((child, False))
    nodes, depth = done[id(root)]
    aliased = any(count > 1 for count in uses.values())
    if nodes > MAX_YAML_NODES:
        what = "YAML aliases expand to" if aliased else "the file holds"
        line = _blame(root, uses, lambda child, level: done[id(child)][0] > MAX_YAML_NODES)
        raise ConfigError(f"{what} more than {MAX_YAML_NODES} nodes", file=file, line=line)
    if depth > MAX_DEPTH:
        line = _blame(root, uses, lambda child, level: level + done[id(child)][1] > MAX_DEPTH)
        expanded = " (with its aliases expanded)" if aliased else ""
        raise ConfigError(_too_deep() + expanded, file=file, line=line)


def _blame(root: Any, uses: dict[int, int], over: Any) -> int | None:
    """The line that breaks a limit: follow the child that breaks it, down to the first alias."""
    node, level = root, 1
    lc = getattr(root, "lc", None)
    line = int(lc.line) + 1 if lc is not None and lc.line is not None else None
    while True:
        for at, child in _containers(node):
            if isinstance(child, dict | list) and over(child, level):
                alias = uses.get(id(child), 0) > 1
                # ruamel places an alias in a sequence where its anchor is: keep the
                # sequence's own line then. A mapping places it at its key.
                if isinstance(node, dict) or not alias:
                    line = _line_in(node, at) or line
                if alias:
                    return line  # where the alias is used is what to fix
                node, level = child, level + 1
                break
        else:
            return line


def plain(node: Any) -> Any:
    """Convert ruamel nodes to plain dicts, lists, str, int, float, bool, None (and dates)."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    if isinstance(node, CommentedMap | dict):
        return {str(k) if not isinstance(k, str) else k: plain(v) for k, v in node.items()}
    if isinstance(node, CommentedSeq | list):
        return [plain(v) for v in node]
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, str):
        return str(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    return node
