"""``windows:`` of targets/<env>.yaml (design §14, contract): when an environment may change."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .duration import Duration
from .windows import parse_clock, parse_local, recurrence, zone


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)


class AllowRule(_Strict):
    """An allowed window: each occurrence of ``rrule`` at wall-clock ``start``, for ``duration``."""

    rrule: str
    start: str
    duration: Duration

    @model_validator(mode="after")
    def _rule(self) -> AllowRule:
        parse_clock(self.start)
        recurrence(self.rrule, self.start)
        if self.duration <= 0:
            raise ValueError("duration must be longer than 0s")
        return self


class DenyPeriod(_Strict):
    """A freeze: nothing but (with ``rollback: always``) rollbacks from ``from`` until ``to``."""

    from_: str = Field(alias="from")
    to: str
    reason: str = Field(min_length=1)

    @model_validator(mode="after")
    def _order(self) -> DenyPeriod:
        if parse_local(self.to) <= parse_local(self.from_):
            raise ValueError(f"deny period ends ({self.to}) before it starts ({self.from_})")
        return self


class WindowsSpec(_Strict):
    """``windows:`` (design §14): when this environment may change, in ``timezone``."""

    timezone: str
    allow: list[AllowRule] = Field(default_factory=list)
    deny: list[DenyPeriod] = Field(default_factory=list)
    rollback: Literal["always", "in_window"] = "always"
    #: Held by the windows longer than this: Stalled, loudly (None: no bound).
    max_wait: Duration | None = None

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        zone(value)
        return value
