"""How a bundle's flag maps onto an Unleash environment and back (pure: no I/O).

A flag is the environment's on/off switch plus one ``flexibleRollout`` strategy: its ``rollout``
parameter (a string) is the percentage, its variants carry weights in tenths of a percent. What
the bundle cannot say (another strategy, constraints, segments) is read back under
``unmanaged`` so that a hand edit shows up as drift instead of passing as in sync.
"""

from __future__ import annotations

import math
import re
from typing import Any

from pydantic import ValidationError

from ..bundle.render import number
from ..model.bundle import Flag
from .interface import InvalidResponse, PermanentError
from .naming import NameTemplate

#: The one strategy a managed flag has in its environment, and how it buckets users.
STRATEGY = "flexibleRollout"
STICKINESS = "default"

Strategy = dict[str, Any]

_LITERAL = re.compile(r"[A-Za-z0-9._~-]*")  # what Unleash allows in a feature name


def flag_names(template: str, where: str) -> NameTemplate:
    """The ``flag_name`` template: ``(bundle, flag) -> feature name``, and back by regex."""
    return NameTemplate(
        template,
        key="flag_name",
        item="flag",
        literal=_LITERAL.pattern,
        allowed="'.', '_', '~', '-'",
        where=where,
    )


# -- reading ---------------------------------------------------------------------------------


def split(strategies: list[Strategy], feature: str) -> tuple[Strategy | None, list[Strategy]]:
    """The strategy we manage (an active flexibleRollout, ours by groupId first), the rest."""
    active = [s for s in strategies if s.get("name") == STRATEGY and not s.get("disabled")]
    ours = [s for s in active if (s.get("parameters") or {}).get("groupId") == feature]
    candidates = ours or active
    managed = candidates[0] if candidates else None
    return managed, [s for s in strategies if s is not managed]


def environment_state(
    feature: dict[str, Any], name: str, environment: str, project: str
) -> dict[str, Any]:
    """The ``environment`` of Unleash's ``feature`` answer, checked for the fields we read."""
    envs = feature.get("environments")
    if not isinstance(envs, list):
        raise InvalidResponse(f"feature {name}: the answer has no 'environments' list")
    for env in envs:
        if isinstance(env, dict) and env.get("name") == environment:
            strategies = env.get("strategies", [])
            if not isinstance(env.get("enabled"), bool) or not (
                isinstance(strategies, list) and all(isinstance(s, dict) for s in strategies)
            ):
                raise InvalidResponse(
                    f"feature {name}: environment {environment} lacks 'enabled' or 'strategies'"
                )
            return {**env, "strategies": strategies}
    raise PermanentError(f"environment {environment} is not enabled in project {project}")


def component(enabled: bool, strategies: list[Strategy], feature: str) -> dict[str, Any]:
    """The flag as ``render.flag_component`` makes it, from an environment's state."""
    managed, others = split(strategies, feature)
    unmanaged: list[str] = []
    if managed is None:
        # No strategy, or Unleash's own "default" strategy, means everyone (100%).
        rollout: int | float = 100
        variants: dict[str, int | float] = {}
        others = [s for s in others if not _plain_default(s)]
    else:
        rollout = _rollout(managed, feature)
        variants = _variants(managed, feature)
        unmanaged += [key for key in ("constraints", "segments") if managed.get(key)]
    unmanaged += [_describe(strategy) for strategy in others]
    flag: dict[str, Any] = {
        "enabled": enabled,
        "rollout": rollout,
        "variants": dict(sorted(variants.items())),
    }
    if unmanaged:
        flag["unmanaged"] = sorted(unmanaged)  # apply removes all of it
    return flag


def _plain_default(strategy: Strategy) -> bool:
    """Unleash's ``default`` strategy, on, for everyone: it says what rollout 100 says."""
    return (
        strategy.get("name") == "default"
        and not strategy.get("disabled")
        and not strategy.get("constraints")
        and not strategy.get("segments")
    )


def _describe(strategy: Strategy) -> str:
    name = strategy.get("name")
    label = f"strategy {name if isinstance(name, str) else '?'}"
    return f"{label} (disabled)" if strategy.get("disabled") else label


def _rollout(strategy: Strategy, feature: str) -> int | float:
    value = (strategy.get("parameters") or {}).get("rollout", "100")
    try:
        rollout = float(value)
    except (TypeError, ValueError):
        rollout = math.nan
    if not math.isfinite(rollout):
        raise InvalidResponse(f"feature {feature}: rollout {str(value)[:20]!r} is not a number")
    return number(rollout)


def _variants(strategy: Strategy, feature: str) -> dict[str, int | float]:
    """Variant weights in percent (Unleash counts tenths of a percent)."""
    variants = strategy.get("variants") or []
    found: dict[str, int | float] = {}
    for variant in variants if isinstance(variants, list) else [None]:
        weight = variant.get("weight") if isinstance(variant, dict) else None
        label = variant.get("name") if isinstance(variant, dict) else None
        if not isinstance(label, str) or type(weight) is not int:
            raise InvalidResponse(f"feature {feature}: a variant without a name or integer weight")
        found[label] = number(weight / 10)
    return found


# -- writing ---------------------------------------------------------------------------------


def desired(key: str, value: Any, feature: str) -> tuple[Flag, Strategy]:
    """Component ``key`` as a flag and the strategy that holds it; PermanentError if Unleash
    cannot hold it exactly (so nothing is written that no fetch could ever match)."""
    try:
        flag = Flag.model_validate(value)
    except ValidationError as exc:
        problem = exc.errors()[0]
        where = ".".join(str(part) for part in problem["loc"]) or "value"
        raise PermanentError(f"cannot apply {key}: {where}: {problem['msg']}") from None
    strategy = {
        "name": STRATEGY,
        "disabled": False,
        "constraints": [],
        "segments": [],
        "parameters": {
            "rollout": str(number(flag.rollout)),
            "stickiness": STICKINESS,
            "groupId": feature,
        },
        "variants": strategy_variants(key, flag.variants),
    }
    return flag, strategy


def strategy_variants(key: str, variants: dict[str, float]) -> list[dict[str, Any]]:
    """Variants with weights in tenths of a percent, adding up to exactly 1000.

    Unleash shares the weight of ``variable`` variants out evenly, whatever was sent, so every
    variant is ``fix`` except one (the heaviest), which takes the remainder: its own weight.
    """
    if not variants:
        return []
    total = sum(variants.values())
    if abs(total - 100) > 1e-6:
        raise PermanentError(
            f"cannot apply {key}: variant weights add up to {number(total)}, not 100"
        )
    tenths: dict[str, int] = {}
    for label, percent in sorted(variants.items()):
        tenths[label] = round(percent * 10)
        if abs(percent * 10 - tenths[label]) > 1e-6:
            raise PermanentError(
                f"cannot apply {key}: variant {label} weighs {number(percent)}%, "
                "finer than Unleash's steps of 0.1%"
            )
    # Each weight is exact and they add up to 100%, so the tenths add up to exactly 1000.
    heaviest = max(tenths, key=lambda label: tenths[label])
    return [
        {
            "name": label,
            "weight": weight,
            "weightType": "variable" if label == heaviest else "fix",
            "stickiness": STICKINESS,
        }
        for label, weight in tenths.items()
    ]


def same_strategy(current: Strategy, wanted: Strategy) -> bool:
    """Whether ``current`` already is ``wanted`` (so an apply writes nothing)."""

    def variants(strategy: Strategy) -> list[tuple[Any, ...]]:
        return sorted(
            tuple(v.get(k) for k in ("name", "weight", "weightType", "stickiness", "payload"))
            for v in strategy.get("variants") or []
            if isinstance(v, dict)
        )

    return (
        not current.get("disabled")
        and not current.get("constraints")
        and not current.get("segments")
        and current.get("parameters") == wanted["parameters"]
        and variants(current) == variants(wanted)
    )


def strategy_id(strategy: Strategy, feature: str) -> str:
    """The strategy's id, as an opaque string (its format changes between Unleash versions)."""
    found = strategy.get("id")
    if not isinstance(found, str) or not found:
        raise InvalidResponse(f"feature {feature}: a strategy without an id")
    return found
