"""Loaded YAML validated against a model; a failure is one error at ``file:line``.

When pydantic rejects a value, the error's location is walked through the round-trip tree
(:func:`~.yamlfile.parse`, which remembers the position of every key) to find the line to blame.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import ConfigError
from .yamlfile import parse, plain, values

if TYPE_CHECKING:
    from pydantic import BaseModel

M = TypeVar("M", bound="BaseModel")


def line_of(root: Any, loc: Sequence[int | str]) -> int | None:
    """The line (1-based) of the deepest node on ``loc`` that exists in the loaded tree."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    node, line = root, None
    for part in loc:
        if isinstance(node, CommentedMap) and part in node:
            line = node.lc.key(part)[0] + 1
            node = node[part]
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and part < len(node):
            line = node.lc.item(part)[0] + 1
            node = node[part]
        # else: a pydantic-only segment (a union tag): stay on this node
    if line is None and isinstance(root, CommentedMap | CommentedSeq):
        line = root.lc.line + 1
    return line


def _present(root: Any, loc: Sequence[int | str]) -> list[int | str]:
    """The segments of ``loc`` as the user wrote them (drops pydantic's union tags)."""
    kept: list[int | str] = []
    node = root
    for part in loc:
        if isinstance(part, str) and part.startswith("function-"):
            continue
        if isinstance(node, dict) and part not in node and part == node.get("type"):
            continue  # a discriminated union's tag, not a key of the file
        kept.append(part)
        node = _child(node, part)
    return kept


def _child(node: Any, part: int | str) -> Any:
    if isinstance(node, dict):
        return node.get(part)
    if isinstance(node, list) and isinstance(part, int) and part < len(node):
        return node[part]
    return None


def describe(error: Mapping[str, Any], root: Any = None) -> str:
    """One readable sentence for one pydantic error."""
    loc = _present(root, error["loc"]) if root is not None else list(error["loc"])
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    kind = error["type"]
    if kind == "extra_forbidden":
        return f"unknown key {path!r}" + " (check for a typo)"
    if kind == "missing":
        return f"missing required key {path!r}"
    message = error["msg"]
    message = message.removeprefix("Value error, ")
    if kind == "string_type" and hasattr(error.get("input"), "isoformat"):
        message += " (quote it: YAML reads an unquoted date as a date)"
    return f"{path}: {message}" if path else message


def validate(model: type[M], root: Any, file: str) -> M:
    """Validate loaded YAML against ``model``; a failure is one ConfigError at file:line."""
    if not isinstance(root, dict):
        raise ConfigError("expected a mapping at the top of the file", file=file, line=1)
    return validate_merged(model, plain(root), [(root, file)])


def validate_merged(model: type[M], data: dict[str, Any], blame: list[tuple[Any, str]]) -> M:
    """Validate ``data`` built from several YAML files; blame the file that holds the bad key."""
    from pydantic import ValidationError

    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        # A model validator may say where in its input the error is: ctx["at"].
        at = (first.get("ctx") or {}).get("at")
        if isinstance(at, tuple):
            first = {**first, "loc": (*first["loc"], *at)}
        more = len(exc.errors()) - 1
        root, file = max(blame, key=lambda pair: len(_present_depth(pair[0], first["loc"])))
        message = describe(first, root) + (f" (and {more} more)" if more else "")
        raise ConfigError(message, file=file, line=line_of(root, first["loc"])) from None


def _present_depth(root: Any, loc: Sequence[int | str]) -> list[Any]:
    found, node = [], root
    for part in loc:
        node = _child(node, part)
        if node is None:
            break
        found.append(part)
    return found


def load(model: type[M], text: str, file: str) -> M:
    """Parse and validate one YAML document (read again with line numbers when it fails)."""
    from pydantic import ValidationError

    data = values(text, file)
    if isinstance(data, dict):
        with contextlib.suppress(ValidationError):
            return model.model_validate(data)
    return validate(model, parse(text, file), file)
