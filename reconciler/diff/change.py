"""The unit of every report: one difference between what a target runs and what is desired."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any


class Kind(StrEnum):
    """What happened to the value at a path, going from observed (old) to desired (new)."""

    ADDED = "added"  #: present in desired, absent in what the target runs
    REMOVED = "removed"  #: present in what the target runs, absent in desired
    CHANGED = "changed"  #: present in both, different


class Severity(StrEnum):
    """What the move from observed to desired means for the agent (design §6)."""

    BREAKING = "breaking"  #: a parser or template consumer fails on one side
    BEHAVIORAL = "behavioral"  #: the model sees something else
    COMPATIBLE = "compatible"  #: a schema change both sides' readers accept
    COSMETIC = "cosmetic"  #: nothing reaches the model or a parser differently

    @property
    def rank(self) -> int:
        """Higher is worse; used to pick the worst change of a target."""
        return _RANK[self]


_RANK = {
    Severity.COSMETIC: 0,
    Severity.COMPATIBLE: 1,
    Severity.BEHAVIORAL: 2,
    Severity.BREAKING: 3,
}


class Breaks(StrEnum):
    """Which readers a breaking schema change breaks."""

    READERS_OF_OLD = "readers_of_old"  #: code still on the old schema, receiving new output
    READERS_OF_NEW = "readers_of_new"  #: updated code, receiving output made under the old schema
    BOTH = "both"  #: readers on either side


@dataclass(frozen=True, slots=True)
class Change:
    """One difference: ``component`` (e.g. ``tool/write_report``), a dotted ``path`` inside it."""

    component: str
    path: str
    kind: Kind
    severity: Severity
    summary: str
    breaks: Breaks | None = None
    #: For text: the changed lines, ``-`` what the target runs, ``+`` desired (a few at most).
    lines: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The audit-JSON form (design §8); ``breaks`` only when it applies."""
        data = asdict(self)
        data["kind"] = str(self.kind)
        data["severity"] = str(self.severity)
        if self.breaks is None:
            del data["breaks"]
        else:
            data["breaks"] = str(self.breaks)
        if self.lines:
            data["lines"] = list(self.lines)
        else:
            del data["lines"]
        return data


def worst(changes: list[Change]) -> Change | None:
    """The most severe change (the first one among equals), or None."""
    best: Change | None = None
    for change in changes:
        if best is None or change.severity.rank > best.severity.rank:
            best = change
    return best
