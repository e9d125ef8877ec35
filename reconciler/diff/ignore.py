"""Ignore rules (design §5): expected differences removed from both sides before comparing.

Pure: rules and component values in, stripped values and the list of what was ignored out.
An ignored difference is never dropped silently: every one is reported with its rule's reason.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..model.inventory import IgnoreRule


_MISSING = object()


@dataclass(frozen=True, slots=True)
class Ignored:
    """One difference an ignore rule covered."""

    component: str
    path: str
    reason: str
    owner: str

    def to_json(self) -> dict[str, str]:
        return {"component": self.component, "path": self.path, "reason": self.reason}


def active_rules(rules: Sequence[IgnoreRule], today: dt.date) -> list[IgnoreRule]:
    """The rules still in force (an expired rule stops applying; the audit reports it)."""
    return [rule for rule in rules if not rule.expired(today)]


def rules_for(target: str, rules: Sequence[IgnoreRule]) -> list[IgnoreRule]:
    """The rules that name ``target``."""
    return [rule for rule in rules if rule.names_target(target)]


def _get(value: Any, parts: list[str]) -> Any:
    for part in parts:
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _drop(value: dict[str, Any], parts: list[str]) -> None:
    """Remove the path, and the mappings it leaves empty (``metadata: {}`` is no difference)."""
    trail = [value]
    for part in parts[:-1]:
        child = trail[-1].get(part)
        if not isinstance(child, dict):
            return
        trail.append(child)
    trail[-1].pop(parts[-1], None)
    for depth in range(len(trail) - 1, 0, -1):
        if trail[depth]:
            break
        trail[depth - 1].pop(parts[depth - 1], None)


def strip(
    target: str, components: Mapping[str, Any], rules: Sequence[IgnoreRule]
) -> dict[str, Any]:
    """``components`` with every ignored path removed (copies only what it changes)."""
    out = dict(components)
    for rule in rules:
        for key in components:
            if not rule.matches(target, key):
                continue
            for path in rule.paths:
                parts = path.split(".")
                if _get(out[key], parts) is _MISSING:
                    continue
                if out[key] is components[key]:
                    out[key] = copy.deepcopy(components[key])
                _drop(out[key], parts)
    return out


def ignored(
    target: str,
    observed: Mapping[str, Any],
    desired: Mapping[str, Any],
    rules: Sequence[IgnoreRule],
) -> list[Ignored]:
    """The differences the rules cover: paths whose values differ between the two sides."""
    found: list[Ignored] = []
    for rule in rules:
        for key in sorted(set(observed) | set(desired)):
            if not rule.matches(target, key):
                continue
            for path in rule.paths:
                parts = path.split(".")
                old = _get(observed.get(key, {}), parts)
                new = _get(desired.get(key, {}), parts)
                if old is _MISSING and new is _MISSING:
                    continue
                if old != new:
                    found.append(Ignored(key, path, rule.reason, rule.owner))
    return found
