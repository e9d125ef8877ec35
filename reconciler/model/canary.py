"""The ``rollout.canary`` spec (design §12.1): a release flag on an Unleash target, the steps'
shares of users, the bake, and the judge's metrics. Plain types; the judging is
:mod:`reconciler.canary.judge`. Not part of the inventory yet: it arrives with staged delivery."""

from __future__ import annotations

import itertools
import re
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from .duration import Duration
from .gates import MAX_QUERY
from .names import check_name

#: A query must keep the digest a request was served with: ``by (..., digest, ...)``.
_BY_DIGEST = re.compile(r"\bby\s*\(([^)]*)\)")
#: What a canary query may name; each is replaced before the query is sent.
PLACEHOLDERS = ("{bundle}", "{environment}", "{interval}")


def parse_percent(value: object, what: str = "a share") -> float:
    """``5%`` or a fraction (0.05) as a fraction; never negative."""
    if isinstance(value, bool):
        raise ValueError(f"{what} like '5%'")
    if isinstance(value, str):
        text = value.strip()
        if not text.endswith("%"):
            raise ValueError(f"{value!r} is not {what} like '5%'")
        try:
            share = float(text[:-1]) / 100
        except ValueError:
            raise ValueError(f"{value!r} is not {what} like '5%'") from None
    elif isinstance(value, int | float):
        share = float(value)
    else:
        raise ValueError(f"{what} like '5%'")
    if not share >= 0 or share == float("inf"):
        raise ValueError(f"{value!r} is not {what} of 0% or more")
    return share


def steps_text(steps: list[float] | tuple[float, ...]) -> str:
    """``1% → 5% → 25%``."""
    return " → ".join(f"{share * 100:g}%" for share in steps)


def _step(value: object) -> float:
    share = parse_percent(value, "a step")
    if share > 1.0:
        raise ValueError(f"step {value!r} is above 100%")
    if share == 0:
        raise ValueError(f"step {value!r} sends no user to the canary")
    return share


def _percent_schema(what: str) -> WithJsonSchema:
    """A share as the JSON Schema spells it: ``'5%'``, or a fraction."""
    return WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": r"^\s*\d+(\.\d+)?%\s*$"},
                {"type": "number", "minimum": 0},
            ],
            "description": f"{what}, like '5%', or a fraction (0.05)",
        }
    )


Step = Annotated[float, BeforeValidator(_step), _percent_schema("a share of users")]
Tolerance = Annotated[
    float,
    BeforeValidator(lambda v: parse_percent(v, "a tolerance")),
    _percent_schema("a relative difference"),
]


def groups_by(query: str, label: str) -> bool:
    """Whether some ``by (...)`` of ``query`` keeps ``label``."""
    return any(
        label in (part.strip() for part in group.split(",")) for group in _BY_DIGEST.findall(query)
    )


def _check_query(query: str, key: str) -> str:
    if not query.strip():
        raise ValueError(f"{key} is empty")
    if len(query) > MAX_QUERY:
        raise ValueError(f"{key} is longer than {MAX_QUERY} characters")
    if not groups_by(query, "digest"):
        raise ValueError(
            f"{key} must keep the digest: aggregate with 'by (digest, ...)' so the canary's "
            "requests can be told from the stable ones"
        )
    return query


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)


class ReleaseFlag(_Strict):
    """The flag that splits users: an Unleash target of the environment and the flag's name."""

    target: str
    name: str = "{bundle}.release"

    @field_validator("target")
    @classmethod
    def _target(cls, value: str) -> str:
        return check_name(value, "release_flag.target")


class CanaryMetric(_Strict):
    """One judged metric: counts (``proportion``) or per-interval values (``mann-whitney``)."""

    name: str
    test: Literal["proportion", "mann-whitney"]
    query: str | None = None
    numerator: str | None = None
    denominator: str | None = None
    worse: Literal["higher", "lower"] = "higher"
    tolerance: Tolerance = 0.0
    critical: bool = True

    @model_validator(mode="after")
    def _queries(self) -> CanaryMetric:
        if self.test == "proportion":
            if self.numerator is None or self.denominator is None:
                raise ValueError(
                    f"metric {self.name!r}: test: proportion needs both numerator and denominator"
                )
            if self.query is not None:
                raise ValueError(f"metric {self.name!r}: test: proportion takes no 'query'")
            _check_query(self.numerator, f"metric {self.name!r}: numerator")
            _check_query(self.denominator, f"metric {self.name!r}: denominator")
        else:
            if self.query is None:
                raise ValueError(f"metric {self.name!r}: test: mann-whitney needs a query")
            if self.numerator is not None or self.denominator is not None:
                raise ValueError(
                    f"metric {self.name!r}: test: mann-whitney takes no numerator or denominator"
                )
            _check_query(self.query, f"metric {self.name!r}: query")
        return self

    @property
    def queries(self) -> tuple[str, ...]:
        """The PromQL it reads: (numerator, denominator) or (query,)."""
        found = (self.numerator, self.denominator) if self.test == "proportion" else (self.query,)
        return tuple(q for q in found if q is not None)


class CanaryJudge(_Strict):
    """How steps are judged: split by ``by``, at ``alpha`` for the whole rollout."""

    by: str | None = None
    alpha: float = 0.05
    min_samples: int = 50
    interval: Duration = 60.0
    metrics: list[CanaryMetric] = Field(min_length=1)

    @field_validator("alpha", mode="before")
    @classmethod
    def _alpha(cls, value: object) -> object:
        if isinstance(value, int | float) and not isinstance(value, bool):
            if not 0.0 < float(value) < 1.0:
                raise ValueError(f"alpha must be between 0 and 1 (exclusive), not {value!r}")
            return float(value)
        return value

    @field_validator("min_samples")
    @classmethod
    def _min_samples(cls, value: int) -> int:
        if value < 10:
            raise ValueError(f"min_samples must be at least 10 per side, not {value}")
        return value

    @field_validator("interval")
    @classmethod
    def _interval(cls, value: float) -> float:
        if value < 1.0:
            raise ValueError("interval must be at least 1s")
        return value

    @field_validator("by")
    @classmethod
    def _by(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
            raise ValueError(f"by {value!r} is not a label name")
        return value

    @model_validator(mode="after")
    def _distinct(self) -> CanaryJudge:
        for metric in self.metrics:
            for query in metric.queries:
                if self.by is not None and not groups_by(query, self.by):
                    raise ValueError(
                        f"metric {metric.name!r}: a query must keep the label {self.by!r} "
                        f"(by: {self.by}): aggregate with 'by (digest, {self.by})'"
                    )
        names = [m.name for m in self.metrics]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"metric {twice[0]!r} is named twice")
        return self


class CanarySpec(_Strict):
    """``rollout.canary``: the release flag, the steps (shares of users), bake and judge."""

    release_flag: ReleaseFlag
    stickiness: str = "userId"
    steps: list[Step] = Field(min_length=1)
    bake: Duration = 1800.0
    judge: CanaryJudge

    @field_validator("steps")
    @classmethod
    def _increasing(cls, steps: list[float]) -> list[float]:
        for before, after in itertools.pairwise(steps):
            if after <= before:
                raise ValueError(f"steps must increase: {after * 100:g}% after {before * 100:g}%")
        return steps

    @field_validator("stickiness")
    @classmethod
    def _stickiness(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,63}", value):
            raise ValueError(f"stickiness {value!r} is not a context field name")
        return value
