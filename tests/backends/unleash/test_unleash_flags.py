"""The flag <-> Unleash environment mapping on its own (no server): tables of cases."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.errors import ConfigError
from reconciler.sources import InvalidResponse, PermanentError
from reconciler.sources.unleash_flags import (
    component,
    desired,
    flag_names,
    same_strategy,
    strategy_variants,
)

FEATURE = "agent.f"


def flexible(rollout: str = "50", **more: Any) -> dict[str, Any]:
    parameters = {"rollout": rollout, "stickiness": "default", "groupId": FEATURE}
    return {"id": "s1", "name": "flexibleRollout", "parameters": parameters, **more}


@pytest.mark.parametrize(
    ("strategies", "expected"),
    [
        ([], {"rollout": 100, "variants": {}}),
        ([{"name": "default"}], {"rollout": 100, "variants": {}}),
        ([flexible("12.5")], {"rollout": 12.5, "variants": {}}),
        (
            [flexible(variants=[{"name": "b", "weight": 334}, {"name": "a", "weight": 666}])],
            {"rollout": 50, "variants": {"a": 66.6, "b": 33.4}},
        ),
        (
            [flexible(constraints=[{"contextName": "userId"}]), {"name": "default"}],
            {"rollout": 50, "variants": {}, "unmanaged": ["constraints", "strategy default"]},
        ),
        (
            [flexible(disabled=True)],
            {"rollout": 100, "variants": {}, "unmanaged": ["strategy flexibleRollout (disabled)"]},
        ),
        (
            # Ours is the one with our groupId, wherever it stands.
            [{**flexible("5"), "parameters": {"rollout": "5", "groupId": "x"}}, flexible("70")],
            {"rollout": 70, "variants": {}, "unmanaged": ["strategy flexibleRollout"]},
        ),
    ],
)
def test_an_environment_reads_as_the_render_shape(
    strategies: list[dict[str, Any]], expected: dict[str, Any]
) -> None:
    assert component(True, strategies, FEATURE) == {"enabled": True, **expected}


@pytest.mark.parametrize("rollout", ["", "half", "nan", "inf"])
def test_a_rollout_that_is_not_a_number_is_invalid(rollout: str) -> None:
    with pytest.raises(InvalidResponse, match="is not a number"):
        component(True, [flexible(rollout)], FEATURE)


def test_weights_become_tenths_with_one_variable_variant_taking_the_rest() -> None:
    variants = strategy_variants("flag/f", {"c": 33.4, "a": 33.3, "b": 33.3})
    assert [(v["name"], v["weight"], v["weightType"]) for v in variants] == [
        ("a", 333, "fix"),
        ("b", 333, "fix"),
        ("c", 334, "variable"),
    ]
    assert sum(v["weight"] for v in variants) == 1000


def test_float_noise_still_adds_up_to_1000() -> None:
    weights = {name: 100 / 8 for name in "abcdefgh"}  # 12.5 each
    assert sum(v["weight"] for v in strategy_variants("flag/f", weights)) == 1000
    tenths = {"a": 0.1 * 3, "b": 100 - 0.1 * 3}  # 0.30000000000000004
    assert [v["weight"] for v in strategy_variants("flag/f", tenths)] == [3, 997]


def test_a_desired_strategy_equals_itself_as_unleash_gives_it_back() -> None:
    value = {"enabled": True, "rollout": 25, "variants": {"on": 50, "off": 50}}
    _, wanted = desired("flag/f", value, FEATURE)
    returned = {**wanted, "id": "01ABC", "sortOrder": 0, "title": None}
    returned["variants"] = list(reversed(wanted["variants"]))  # order never counts
    assert same_strategy(returned, wanted)
    assert not same_strategy({**returned, "constraints": [{"contextName": "x"}]}, wanted)
    assert not same_strategy({**returned, "parameters": {"rollout": "26"}}, wanted)


def test_a_component_that_is_not_a_flag_is_refused() -> None:
    with pytest.raises(PermanentError, match=r"cannot apply flag/f: rollout: "):
        desired("flag/f", {"enabled": True, "rollout": 101}, FEATURE)


@pytest.mark.parametrize(
    ("template", "feature", "flag"),
    [
        ("{bundle}.{flag}", "agent.f.v2", "f.v2"),
        ("{bundle}.{flag}", "agentx.f", None),
        ("{bundle}.{flag}", "agent.", None),
        ("{bundle}.{flag}", "agent..f", None),
        ("ff_{flag}__{bundle}", "ff_f__agent", "f"),
        ("{flag}", "anything", "anything"),
    ],
)
def test_names_map_back_to_flags(template: str, feature: str, flag: str | None) -> None:
    names = flag_names(template, "target t")
    match = names.matcher("agent").fullmatch(feature)
    assert (match and match["flag"]) == flag
    if flag is not None:
        assert names.name("agent", flag) == feature


def test_a_template_error_names_the_target() -> None:
    with pytest.raises(ConfigError, match=r"^target t: flag_name '\{bundle\}' must hold"):
        flag_names("{bundle}", "target t")
