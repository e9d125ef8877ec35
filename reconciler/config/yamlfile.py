"""YAML in, plain data out, with every error pointing at ``file:line``.

ruamel.yaml's round-trip loader keeps the position of every key; when pydantic rejects a value
we walk the error's location through the loaded tree to find the line to blame.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from .. import __version__
from ..errors import ConfigError

M = TypeVar("M", bound=BaseModel)


def parse(text: str, file: str) -> Any:
    """Parse YAML text into ruamel's round-trip nodes (which remember line numbers)."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    yaml = YAML(typ="rt")
    try:
        return yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = (exc.problem or exc.context or "invalid YAML").strip()
        raise ConfigError(f"invalid YAML: {problem}", file=file, line=line) from None
    except YAMLError as exc:
        raise ConfigError(f"invalid YAML: {str(exc).splitlines()[0]}", file=file) from None


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


def describe(error: dict[str, Any], root: Any = None) -> str:
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
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
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
    """Parse and validate one YAML document."""
    return validate(model, parse(text, file), file)


def load_cached(model: type[M], text: str, file: str, cache: Path | None = None) -> M:
    """Like :func:`load`, remembering the validated model by the text's hash under ``cache``.

    Round-trip parsing is exact (YAML 1.2, line numbers) but slow for large inventories (about
    1 s for 1000 targets); the same bytes are never parsed twice. libyaml's C loader is not a
    shortcut: it reads YAML 1.1 (``yes`` is true, ``{url: http://x}`` is an error).
    """
    key = hashlib.sha256(f"{__version__}\0{model.__name__}\0{text}".encode()).hexdigest()
    path = cache / f"{model.__name__.lower()}-{key[:32]}.json" if cache is not None else None
    if path is not None and path.is_file():
        try:
            return model.model_validate_json(path.read_bytes())
        except (ValidationError, OSError):
            pass  # a stale or damaged entry: parse again
    done = load(model, text, file)
    if path is not None:
        with contextlib.suppress(OSError):
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(done.model_dump_json(by_alias=True))
            os.replace(tmp, path)
    return done
