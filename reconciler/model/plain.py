"""A validated inventory read back as plain objects: the model's attributes, without pydantic.

An inventory is validated by its pydantic model (:mod:`.inventory`) once per content (and per
version of the code that validates it); the validated form is cached as JSON. Reading that JSON
back through the model costs ~250 ms before an audit sends its first request (importing pydantic
and building the models), as much as fetching a thousand targets. A command that only reads an
inventory (``audit``, ``plan``, ``skew``, ``diff``) reads it into these objects instead: the
same attribute names, the same values, the same methods as the model, and no validation (what is
read was validated when it was written). They are read-only views for those commands; whatever
writes, steps a rollout or checks a config uses the model itself.

Every nested mapping becomes a :class:`Plain` unless the model declares it a mapping
(:data:`MAPPINGS`); field aliases come back as their attribute names (:data:`ALIASES`); dates
as dates (:data:`DATES`). ``tests/core/test_plain.py`` keeps all three, and each method here,
in step with the model.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, ClassVar

from .methods import GateMethods, PolicyMethods, RuleMethods, TargetMethods

#: Fields whose value is a mapping of the user's (``headers``), not a nested model.
MAPPINGS = frozenset({"headers"})
#: Fields dumped under an alias, and the attribute each is read as.
ALIASES: Mapping[str, str] = {"for": "hold", "from": "from_"}
#: Fields holding a date (dumped as ``YYYY-MM-DD``).
DATES = frozenset({"expires"})


class Plain:
    """One validated model as plain attributes (its fields, nested models as :class:`Plain`)."""

    #: The model this stands for, for ``repr`` (``TargetSpec(name='t1', ...)``).
    model: ClassVar[str] = "Plain"
    #: Fields holding nested models that have methods, and the class each is read as.
    nested: ClassVar[Mapping[str, type[Plain]]] = {}

    def __init__(self, **fields: Any) -> None:
        self.__dict__.update(fields)

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in self.__dict__.items())
        return f"{self.model}({shown})"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.__dict__ == self.__dict__

    __hash__ = None  # type: ignore[assignment]  # as the model: mutable, so not hashable

    def model_copy(self, *, update: Mapping[str, Any] | None = None) -> Any:
        """A copy with ``update``'s fields replaced (as ``BaseModel.model_copy``)."""
        return type(self)(**{**self.__dict__, **(update or {})})


class PlainProbe(Plain):
    """A ``ProbeSpec``."""

    model = "ProbeSpec"
    url: str
    headers: dict[str, str]
    timeout: float

    def as_source(self) -> Plain:
        source = {"type": "http", "url": self.url, "headers": self.headers}
        return Plain(
            **source, timeout=self.timeout, apply_method="PUT", stage_url=None, switch="put"
        )


class PlainTarget(Plain, TargetMethods):
    """A ``TargetSpec``."""

    model = "TargetSpec"
    nested = {"probe": PlainProbe}
    name: str
    carries: str | list[str]
    source: Any


class PlainRule(Plain, RuleMethods):
    """An ``IgnoreRule``."""

    model = "IgnoreRule"
    targets: list[str]
    components: list[str]
    expires: dt.date | None


class PlainGate(Plain, GateMethods):
    """An ``AnalysisGate``."""

    model = "AnalysisGate"
    targets: list[str]
    max: float | None
    min: float | None


class PlainPolicy(Plain, PolicyMethods):
    """A ``RolloutPolicy``."""

    model = "RolloutPolicy"
    nested = {"analysis": PlainGate}
    waves: list[Any]
    progress_deadline: float


class PlainInventory(Plain):
    """An ``Inventory``."""

    model = "Inventory"
    nested = {"targets": PlainTarget, "ignore": PlainRule, "rollout": PlainPolicy}


def plain_inventory(data: dict[str, Any]) -> PlainInventory:
    """The inventory a validated dump (``Inventory.model_dump(by_alias=True, mode="json")``)
    holds, as plain objects. ``data`` becomes theirs (its mappings are reused, not copied)."""
    made: PlainInventory = _plain(data, PlainInventory)
    return made


def _plain(data: dict[str, Any], kind: type[Plain]) -> Any:
    """``data`` as a ``kind``, its nested models as :class:`Plain` (in place: ~1 us a model)."""
    for key, value in data.items():
        if type(value) is dict:
            if key not in MAPPINGS:
                data[key] = _plain(value, kind.nested.get(ALIASES.get(key, key), Plain))
        elif type(value) is list:
            if value and type(value[0]) is dict:
                inner = kind.nested.get(ALIASES.get(key, key), Plain)
                data[key] = [_plain(item, inner) for item in value]
        elif key in DATES and type(value) is str:
            data[key] = dt.date.fromisoformat(value)
    for alias, name in ALIASES.items():
        if alias in data:
            data[name] = data.pop(alias)
    made = kind.__new__(kind)
    made.__dict__ = data
    return made
