"""Which targets a write carries (pure): a part brings along the rest of its group that does not
already run the desired content; the notice of a switch that went back whole, or could not."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from reconciler.model.rollout import ConditionType, Rollout
from reconciler.rollout import engine, switchback
from reconciler.rollout.groups import with_groups
from tests.rollout.support import policy


@dataclass
class T:
    name: str
    group: str | None = None


FLEET = [T("s3", "eu"), T("prompts", "eu"), T("flags", "eu"), T("pop"), T("us-s3", "us")]


@pytest.mark.parametrize(
    ("applies", "statuses", "written", "along"),
    [
        # a wave that names one part of a group brings the lagging rest of it
        (
            ["s3"],
            {"prompts": "lagging", "flags": "lagging"},
            ["s3", "prompts", "flags"],
            ["prompts", "flags"],
        ),
        # self-heal of one drifted part: the others already serve the desired digest
        (["prompts"], {"s3": "in_sync", "flags": "in_sync"}, ["prompts"], []),
        # unobserved (converge --target): the part comes along, unknown is never in sync
        (["flags"], {}, ["s3", "prompts", "flags"], ["s3", "prompts"]),
        # a target without group is a group of its own; other groups are untouched
        (["pop"], {"s3": "lagging"}, ["pop"], []),
        ([], {"s3": "lagging"}, [], []),
    ],
    ids=["wave-part", "self-heal", "unobserved", "no-group", "nothing"],
)
def test_a_write_carries_the_rest_of_the_group(
    applies: list[str], statuses: dict[str, str], written: list[str], along: list[str]
) -> None:
    assert with_groups(FLEET, applies, statuses) == (written, along)


def _rollout() -> Rollout:
    return engine.start(
        environment="production",
        bundle="support-agent",
        from_revision=None,
        to_revision="b" * 40,
        digest="sha256:" + "0" * 64,
        targets=["s3", "prompts"],
        policy=policy(),
        now=0.0,
    )


def test_switch_reverted_is_set_once_and_cleared_by_a_whole_switch() -> None:
    start = _rollout()
    marked = switchback.reverted(start, "eu", "switch failed on prompts: HTTP 500", 10.0)
    condition = marked.conditions[ConditionType.SWITCH_REVERTED]
    assert condition.status and condition.reason == "SwitchReverted"
    assert condition.message == "eu: switch failed on prompts: HTTP 500"
    assert ConditionType.SWITCH_REVERTED not in start.conditions  # pure: a copy
    again = switchback.reverted(marked, "eu", "switch failed on prompts: HTTP 500", 20.0)
    assert again.conditions[ConditionType.SWITCH_REVERTED].since == 10.0
    assert ConditionType.SWITCH_REVERTED not in switchback.cleared(again, 30.0).conditions
    assert switchback.cleared(start, 30.0) is start


def test_the_notice_names_the_group_and_says_whether_it_is_whole() -> None:
    back = switchback.notice("eu", "reverted", "switch failed on prompts", ["s3", "prompts"])
    assert back.condition == "switch_reverted" and "was switched back whole" in back.message
    torn = switchback.notice("eu", "torn", "could not switch back s3", ["s3", "prompts"])
    assert torn.condition == "torn" and "group eu is torn" in torn.message
    assert [t for t, _ in torn.targets] == ["prompts", "s3"]
