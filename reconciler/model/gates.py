"""Gates that read the agent's behaviour, as inventories declare them (design §5, contract):
metric analysis on Prometheus (``analysis:``, ``rollout.analysis``) and a target's output
contract (``outputs:``). Plain types; the checking itself is :mod:`reconciler.gates`."""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, field_validator, model_validator

from .duration import Duration, Timeout
from .methods import GateMethods
from .names import check_http_url, check_name

#: Most outputs one check reads from an ``outputs`` endpoint.
MAX_SAMPLE = 10_000
#: Longest PromQL query accepted (a query is sent as a URL parameter).
MAX_QUERY = 8192
#: What a gate's query may name; each is replaced by a plain name or a revision sha.
PLACEHOLDERS = ("{target}", "{bundle}", "{environment}", "{revision}", "{tier}", "{channel}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)


#: A share as the JSON Schema of targets/<env>.yaml spells it (``reconciler schema``).
SHARE_SCHEMA = {
    "anyOf": [
        {"type": "string", "pattern": r"^\s*\d+(\.\d+)?\s*%\s*$"},
        {"type": "number", "minimum": 0, "maximum": 1},
    ],
    "description": "a share of outputs: '1%', '0.5%', or a fraction from 0 to 1",
}


def parse_share(value: object) -> float:
    """A share of outputs: ``1%``, ``0.5%``, or a fraction below 1 (``0.01``)."""
    if isinstance(value, bool):
        raise ValueError("a share like '1%' or 0.01")
    if isinstance(value, str):
        text = value.strip()
        if not text.endswith("%"):
            raise ValueError(f"{value!r} is not a share like '1%'")
        try:
            share = float(text[:-1]) / 100
        except ValueError:
            raise ValueError(f"{value!r} is not a share like '1%'") from None
    elif isinstance(value, int | float):
        share = float(value)
        if share >= 1.0:  # `max_invalid: 1` read as 100% silently turned the contract off
            raise ValueError(
                f"{value!r} as a fraction is {share:.0%}: write a percentage like '1%', "
                "or a fraction below 1 like 0.01"
            )
    else:
        raise ValueError("a share like '1%' or 0.01")
    if not math.isfinite(share) or not 0.0 <= share <= 1.0:
        raise ValueError(f"{value!r} is not a share between 0% and 100%")
    return share


class OutputsSpec(_Strict):
    """A target's recent structured outputs: JSON lines, newest first, each
    ``{"schema": "<output schema name>", "output": <the output>}``.

    At most ``sample`` lines are read; above ``max_invalid`` invalid, the contract is broken.
    """

    url: str
    headers: dict[str, str] = Field(default_factory=dict)
    timeout: Timeout = 5.0
    sample: int = Field(default=200, ge=1, le=MAX_SAMPLE)
    max_invalid: Annotated[float, WithJsonSchema(SHARE_SCHEMA)] = 0.01

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return check_http_url(value)

    @field_validator("max_invalid", mode="before")
    @classmethod
    def _share(cls, value: object) -> float:
        return parse_share(value)


class PrometheusSpec(_Strict):
    """Where metric gates are evaluated: a Prometheus server's HTTP API (``/api/v1/query``)."""

    url: str
    headers: dict[str, str] = Field(default_factory=dict)
    timeout: Timeout = 5.0

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return check_http_url(value)


class AnalysisSpec(_Strict):
    """The top-level ``analysis:``: the provider the rollout's metric gates query."""

    prometheus: PrometheusSpec


class AnalysisGate(_Strict, GateMethods):
    """One metric gate, evaluated during each wave's bake, for each target of the wave.

    Passes once ``query``'s value has stayed within ``max``/``min`` for ``for`` (counted
    within the bake); a value beyond either fails it at once. Every series of the answer
    counts: the worst one is compared.
    """

    name: str
    query: str = Field(min_length=1, max_length=MAX_QUERY)
    max: float | None = None
    min: float | None = None
    hold: Duration = Field(default=0.0, alias="for")
    #: No data (an empty answer, NaN, or Prometheus not answering): fail (the default: fails
    #: closed), pass, or wait (the wave holds until data comes or the deadline passes).
    on_missing: Literal["fail", "pass", "wait"] = "fail"
    #: What a failing gate does: pause the rollout, or put the wave's targets back and stop.
    on_fail: Literal["pause", "rollback"] = "pause"
    #: The targets it reads (globs; all by default): a POP may have no such metric at all.
    targets: list[str] = Field(default_factory=lambda: ["*"], min_length=1)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_name(value, "analysis name")

    @field_validator("max", "min", mode="before")
    @classmethod
    def _number(cls, value: object) -> object:
        if isinstance(value, bool):
            raise ValueError("a number")
        if isinstance(value, int | float) and not math.isfinite(value):
            raise ValueError("a finite number")
        return float(value) if isinstance(value, int) else value

    @model_validator(mode="after")
    def _bounded(self) -> AnalysisGate:
        if self.max is None and self.min is None:
            raise ValueError("needs max: or min: (or both)")
        return self
