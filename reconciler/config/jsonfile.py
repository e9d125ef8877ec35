"""JSON files of a bundle (tool and output schemas), bounded and strict, errors at ``file:line``.

Python's ``json`` reads ``NaN`` and ``Infinity`` (JSON has neither), turns ``1e999`` into an
infinite float, and recurses once per level (100,000 levels: a RecursionError). Here each of
those is one :class:`~reconciler.errors.ConfigError` naming the file and line, found in time
linear in the size of the file.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from typing import Any

from ..errors import ConfigError
from ..limits import MAX_DEPTH, MAX_FILE
from .yamlfile import check_size

_STRING = r'"[^"\\]*(?:\\.[^"\\]*)*"'
#: The tokens that matter for depth, strings swallowed whole (so nothing inside one counts).
_TOKENS = re.compile(_STRING + r"|[\[\]{}]")
#: Numbers (and JSON's non-numbers) outside strings.
_NUMBERS = re.compile(_STRING + r"|-?(?:Infinity|NaN|\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)")
_DELTA = {"[": 1, "{": 1, "]": -1, "}": -1}


class _NotJson(ValueError):
    """A number JSON has no way to write: NaN, an infinity, or a float that overflows."""


def _constant(name: str) -> Any:
    raise _NotJson(name)


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NotJson(text)
    return value


def load_json(data: bytes, file: str, *, limit: int = MAX_FILE) -> Any:
    """The JSON value in ``data``; at most ``limit`` bytes and :data:`MAX_DEPTH` levels deep."""
    check_size(data, limit, file)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError("not valid UTF-8 text", file=file) from None
    try:
        value = json.loads(text, parse_constant=_constant, parse_float=_finite)
    except _NotJson as exc:
        number = str(exc)
        line = _line_of_number(text, number)
        what = "is not JSON" if number.lstrip("-") in ("NaN", "Infinity") else "overflows"
        raise ConfigError(
            f"{number} {what}: JSON numbers are finite (no NaN or infinity)", file=file, line=line
        ) from None
    except RecursionError:
        raise ConfigError(_too_deep(), file=file, line=_line_too_deep(text)) from None
    except ValueError as exc:  # json.JSONDecodeError, or an integer of over 4300 digits
        line = getattr(exc, "lineno", None)
        raise ConfigError(f"invalid JSON: {str(exc).split(':')[0]}", file=file, line=line) from None
    if isinstance(value, dict | list) and _depth(text) > MAX_DEPTH:
        raise ConfigError(_too_deep(), file=file, line=_line_too_deep(text))
    return value


def _too_deep() -> str:
    return f"JSON nested deeper than {MAX_DEPTH} levels"


def _depths(text: str) -> list[int]:
    """The nesting depth after each bracket token (string contents never count)."""
    tokens = _TOKENS.findall(text)
    return list(itertools.accumulate(map(_DELTA.get, tokens, itertools.repeat(0))))


def _depth(text: str) -> int:
    return max(_depths(text), default=0)


def _line_too_deep(text: str) -> int | None:
    """The line of the first bracket past :data:`MAX_DEPTH` (depths rise one at a time)."""
    try:
        index = _depths(text).index(MAX_DEPTH + 1)
    except ValueError:
        return None
    match = next(itertools.islice(_TOKENS.finditer(text), index, None))
    return text.count("\n", 0, match.start()) + 1


def _line_of_number(text: str, number: str) -> int | None:
    """The line of the first ``number`` outside a string (NaN, Infinity, or e.g. 1e999)."""
    for match in _NUMBERS.finditer(text):
        if match.group() == number:
            return text.count("\n", 0, match.start()) + 1
    return None
