"""What a group switch that went back says (design §12), pure: the ``SwitchReverted`` condition
on the rollout, and the alert naming the group, the part that failed and the parts put back."""

from __future__ import annotations

import copy
from collections.abc import Sequence

from ..model.codes import AlertCondition
from ..model.rollout import ConditionType, Notify, Reason, Rollout
from .conditions import set_condition


def reverted(rollout: Rollout, group: str, reason: str, now: float) -> Rollout:
    """``rollout`` with ``SwitchReverted`` set: group ``group`` went back because of ``reason``."""
    r = copy.deepcopy(rollout)
    set_condition(
        r, ConditionType.SWITCH_REVERTED, True, Reason.SWITCH_REVERTED, f"{group}: {reason}", now
    )
    return r


def cleared(rollout: Rollout, now: float) -> Rollout:
    """``rollout`` without ``SwitchReverted`` once a group switch went through whole (the same
    object when it had none)."""
    if ConditionType.SWITCH_REVERTED not in rollout.conditions:
        return rollout
    r = copy.deepcopy(rollout)
    r.conditions.pop(ConditionType.SWITCH_REVERTED, None)
    return r


def notice(group: str, outcome: str, reason: str, parts: Sequence[str]) -> Notify:
    """The alert of a switch that went back (``switch_reverted``) or could not (``torn``)."""
    torn = outcome == "torn"
    condition = AlertCondition.TORN if torn else AlertCondition.SWITCH_REVERTED
    what = "is torn" if torn else "was switched back whole"
    return Notify(
        condition,
        "firing",
        tuple((part, reason) for part in sorted(parts)),
        f"group {group} {what}: {reason}",
    )
