"""Durations as users write them in inventories: ``90s``, ``2m``, ``1h30m``, ``1d``."""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Annotated

from ..limits import MAX_DURATION, MAX_TIMEOUT, MIN_TIMEOUT

if TYPE_CHECKING:
    from pydantic import BeforeValidator

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(value: object) -> float:
    """Seconds in ``value``: a string like ``1h30m`` or a bare number of seconds.

    At most :data:`~reconciler.limits.MAX_DURATION` (a year): ``99999999999999999999d``, an
    infinite or a NaN number is a ValueError, not a float that overflows date arithmetic later.
    """
    seconds = _seconds(value)
    if seconds > MAX_DURATION:
        raise ValueError(f"{_shown(value)} is longer than {format_duration(MAX_DURATION)}")
    return seconds


def parse_timeout(value: object) -> float:
    """A network timeout: a duration from 100 ms to 5 minutes (0 would mean "wait forever")."""
    seconds = _seconds(value)
    if not MIN_TIMEOUT <= seconds <= MAX_TIMEOUT:
        raise ValueError(f"a timeout must be between 100ms and 5m, not {_shown(value)}")
    return seconds


def _seconds(value: object) -> float:
    if isinstance(value, bool):
        raise ValueError("a duration like '90s', '2m' or '1h30m'")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise ValueError(f"{_shown(value)} is not a finite duration")
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return float(value)
    if not isinstance(value, str) or not value.strip():
        raise ValueError("a duration like '90s', '2m' or '1h30m'")
    text = value.strip()
    pos, total = 0, 0.0
    for match in _PART.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNIT[match.group(2)]
        pos = match.end()
    if pos != len(text):
        raise ValueError(f"{_shown(value)} is not a duration like '90s', '2m' or '1h30m'")
    if not math.isfinite(total):
        raise ValueError(f"{_shown(value)} is not a finite duration")
    return total


def _shown(value: object) -> str:
    """``value`` quoted for a message, cut short (it may be 400 digits long)."""
    text = repr(value)
    return text if len(text) <= 40 else text[:30] + "..." + text[-6:]


def format_duration(seconds: float) -> str:
    """A short human form: ``5h12m``, ``3m05s``, ``42s``, ``2d3h``."""
    seconds = int(max(seconds, 0))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


if TYPE_CHECKING:
    #: A field holding seconds, written in YAML as a duration string.
    Duration = Annotated[float, BeforeValidator(parse_duration)]

    #: A network timeout in seconds (100 ms to 5 minutes), written as a duration string.
    Timeout = Annotated[float, BeforeValidator(parse_timeout)]


#: A duration as the JSON Schemas of the config files spell it (``reconciler schema``).
DURATION_PATTERN = r"^\s*(\d+(\.\d+)?(ms|s|m|h|d))+\s*$"


def duration_schema(name: str = "Duration") -> dict[str, object]:
    """The JSON Schema of a duration (or a timeout): a string like ``90s`` or seconds."""
    what = "a timeout from 100ms to 5m" if name == "Timeout" else "a duration"
    return {
        "anyOf": [
            {"type": "string", "pattern": DURATION_PATTERN},
            {"type": "number", "minimum": 0},
        ],
        "description": f"{what}, like '90s', '2m', '1h30m' or '1d', or a number of seconds",
    }


def __getattr__(name: str) -> object:
    """``Duration`` and ``Timeout``, made when a model first imports them (pydantic loads
    then): the functions above are also used where pydantic is not wanted, e.g. in the words
    of an audit that read its inventory without it."""
    checks = {"Duration": parse_duration, "Timeout": parse_timeout}
    if name not in checks:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from pydantic import BeforeValidator, WithJsonSchema

    made = Annotated[float, BeforeValidator(checks[name]), WithJsonSchema(duration_schema(name))]
    globals()[name] = made
    return made
