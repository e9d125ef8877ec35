"""Value helpers every component differ shares: equality where numbers compare as numbers, short
renderings for summaries, and a generic walk of two JSON values into :class:`Delta` entries.

Pure: no I/O, no clock. We walk ourselves rather than call deepdiff: the gate leaves only small
components to compare, and a walk of our own gives dotted paths, ``1 == 1.0`` but ``True != 1``,
and lists-as-sets exactly where a component wants them, with no 100 ms import.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .change import Breaks, Kind, Severity


class _Missing:
    """The marker for "no value here" (``None`` is JSON ``null``, a value)."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


@dataclass(frozen=True, slots=True)
class Delta:
    """A :class:`~reconciler.diff.change.Change` before it knows its component."""

    path: str
    kind: Kind
    severity: Severity
    summary: str
    breaks: Breaks | None = None
    lines: tuple[str, ...] = ()
    #: A field-presence break (a property removed or renamed): it holds whatever validation says.
    presence: bool = field(default=False, compare=False, repr=False)


def ordering(delta: Delta) -> tuple[str, str, int, str]:
    """Path, then kind, the worse severity first, then summary: a total, stable order."""
    return (delta.path, delta.kind.value, -delta.severity.rank, delta.summary)


def is_number(value: Any) -> bool:
    """An int or float, but not a bool (JSON ``true`` is not ``1``)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def same(a: Any, b: Any) -> bool:
    """JSON equality: numbers compare as numbers (``1 == 1.0``), key order never counts."""
    if is_number(a) and is_number(b):
        return bool(a == b)
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def key_of(value: Any) -> Any:
    """A hashable stand-in for a JSON value, equal exactly when :func:`same` says so."""
    if isinstance(value, bool):
        return ("b", value)
    if is_number(value):
        return ("n", value)  # 1 and 1.0 are equal and hash alike
    if isinstance(value, str):
        return ("s", value)
    if isinstance(value, dict):
        return ("d", tuple(sorted((k, key_of(v)) for k, v in value.items())))
    if isinstance(value, list):
        return ("l", tuple(key_of(v) for v in value))
    return ("z", repr(value))


def fmt(value: Any, limit: int = 60) -> str:
    """A short, readable rendering of a value for a summary."""
    if value is MISSING:
        text = "(unset)"
    elif isinstance(value, str):
        text = value.replace("\r", "\\r").replace("\n", "\\n")
    else:
        text = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def fmt_set(values: list[Any]) -> str:
    """A sorted, comma-separated rendering of several values."""
    return ", ".join(sorted(fmt(v, 40) for v in values))


def join(path: str, key: str | int) -> str:
    """The dotted path of ``key`` inside ``path`` (``""`` is the component itself)."""
    return f"{path}.{key}" if path else str(key)


def _plain_label(path: str) -> str:
    return path or "value"


def walk(
    old: Any,
    new: Any,
    path: str,
    severity: Severity,
    *,
    label: Callable[[str], str] = _plain_label,
    lists_as_sets: bool = False,
    note: Note | None = None,
) -> list[Delta]:
    """Every difference between two JSON values, each at its dotted path with ``severity``.

    ``label`` names a path in summaries; with ``lists_as_sets`` a list of scalars is compared as
    a set (order and duplicates do not count) and reported as one entry per list. ``note`` may
    add to the summary of a changed value, or of a set's change (``old``/``new`` are then the
    values removed and added), e.g. a direction such as ``" (raised)"``.
    """
    out: list[Delta] = []
    _walk(old, new, path, severity, label, lists_as_sets, out)
    if note is None:
        return out
    return [_noted(delta, old, new, path, note) for delta in out]


#: ``note(path, old, new)``: text to append to a change's summary ("" for none).
Note = Callable[[str, Any, Any], str]


def at(value: Any, path: str, base: str = "") -> Any:
    """The value at dotted ``path`` (relative to ``base``) inside ``value``, or ``MISSING``."""
    rest = path[len(base) :].lstrip(".") if base and path.startswith(base) else path
    node = value
    for part in rest.split(".") if rest else []:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return MISSING
    return node


def _noted(delta: Delta, old: Any, new: Any, base: str, note: Note) -> Delta:
    was, now = at(old, delta.path, base), at(new, delta.path, base)
    if _scalar_list(was) and _scalar_list(now):  # a set's change: pass what left and came
        was_keys, now_keys = {key_of(v) for v in was}, {key_of(v) for v in now}
        was = [v for v in was if key_of(v) not in now_keys]
        now = [v for v in now if key_of(v) not in was_keys]
    extra = note(delta.path, was, now)
    if not extra:
        return delta
    return Delta(delta.path, delta.kind, delta.severity, delta.summary + extra, delta.breaks)


def _scalar_list(value: Any) -> bool:
    return isinstance(value, list) and all(not isinstance(v, dict | list) for v in value)


def _walk(
    old: Any,
    new: Any,
    path: str,
    severity: Severity,
    label: Callable[[str], str],
    as_sets: bool,
    out: list[Delta],
) -> None:
    if same(old, new):
        return
    if isinstance(old, dict) and isinstance(new, dict):
        keys: list[Any] = sorted(old.keys() | new.keys())
    elif as_sets and _scalar_list(old) and _scalar_list(new):
        _set_delta(old, new, path, label(path), severity, out)
        return
    elif isinstance(old, list) and isinstance(new, list):
        keys = list(range(max(len(old), len(new))))
    else:
        summary = f"{label(path)} {fmt(old)} -> {fmt(new)}"
        out.append(Delta(path, Kind.CHANGED, severity, summary))
        return
    for key in keys:
        sub = join(path, key)
        was = _get(old, key)
        now = _get(new, key)
        if now is MISSING:
            out.append(Delta(sub, Kind.REMOVED, severity, f"{label(sub)} removed (was {fmt(was)})"))
        elif was is MISSING:
            out.append(Delta(sub, Kind.ADDED, severity, f"{label(sub)} added: {fmt(now)}"))
        else:
            _walk(was, now, sub, severity, label, as_sets, out)


def _get(container: Any, key: Any) -> Any:
    if isinstance(container, dict):
        return container.get(key, MISSING)
    return container[key] if key < len(container) else MISSING


def _set_delta(
    old: list[Any], new: list[Any], path: str, name: str, severity: Severity, out: list[Delta]
) -> None:
    old_keys = {key_of(v): v for v in old}
    new_keys = {key_of(v): v for v in new}
    added = [v for k, v in new_keys.items() if k not in old_keys]
    removed = [v for k, v in old_keys.items() if k not in new_keys]
    if added and removed:
        summary = f"{name}: added {fmt_set(added)}; removed {fmt_set(removed)}"
        out.append(Delta(path, Kind.CHANGED, severity, summary))
    elif added:
        out.append(Delta(path, Kind.ADDED, severity, f"{name} added: {fmt_set(added)}"))
    elif removed:
        out.append(Delta(path, Kind.REMOVED, severity, f"{name} removed: {fmt_set(removed)}"))
    # else: only order or duplicates differ, which a set does not see
