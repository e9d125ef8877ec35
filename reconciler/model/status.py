"""A target's status (design §6, the audit JSON's ``status``): the words every consumer reads.

Classification (:mod:`reconciler.diff.classify`) decides it; reports, the page, the metrics,
the state store's skew clock and ``--fail-on`` read it. Pure data, no I/O.
"""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    """What a target runs, compared with desired. Ordered from best to worst."""

    IN_SYNC = "in_sync"  #: every carried component equals desired
    LAGGING = "lagging"  #: equals an earlier revision from git history
    NOT_LOADED = "not_loaded"  #: the store holds one revision, its serving process another
    MISSING = "missing"  #: the target answered, but holds no such bundle
    DRIFTED = "drifted"  #: matches no revision in history: changed out of band
    INVALID = "invalid"  #: answered with something that is not a valid rendered bundle
    UNREACHABLE = "unreachable"  #: could not be observed at all

    @property
    def rank(self) -> int:
        return _ORDER.index(self)


_ORDER = list(Status)


def worst_status(statuses: list[Status]) -> Status:
    """The worst of several statuses (in_sync when there are none)."""
    return max(statuses, key=lambda s: s.rank, default=Status.IN_SYNC)


#: Statuses that open a skew episode: every one but in sync (the target runs something other
#: than desired).
SKEWED = frozenset(s for s in Status if s is not Status.IN_SYNC)
#: Store statuses that a serving process which loaded something else turns into ``not_loaded``.
LOADABLE = (Status.IN_SYNC, Status.LAGGING)
