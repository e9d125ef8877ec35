"""Which targets a write carries (design §12), pure: every part of a group moves together.

A target the engine asks to apply brings along each part of its ``group`` that does not already
run the desired content: switching one part alone would tear the group. A self-heal of one
drifted part therefore moves only that part (the others already serve the desired digest).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

#: Statuses of a part that already serves the desired content.
IN_SYNC = "in_sync"


def with_groups(
    targets: Iterable[Any], applies: Sequence[str], statuses: Mapping[str, str]
) -> tuple[list[str], list[str]]:
    """``applies`` with the rest of their groups: (every target to write, the ones that came
    along). A part whose status is unknown (not observed this step) comes along."""
    specs = list(targets)
    wanted = set(applies)
    groups = {s.group for s in specs if s.name in wanted and s.group is not None}
    along = [
        s.name
        for s in specs
        if s.group in groups and s.name not in wanted and statuses.get(s.name) != IN_SYNC
    ]
    ordered = [s.name for s in specs if s.name in wanted or s.name in along]
    return ordered, along
