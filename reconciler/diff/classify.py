"""Classification (design §6, contract): which revision a target runs, how far behind, since when.

Pure: digests, a target's view of the bundle's git history and the current time in; a verdict
out. The history itself is read elsewhere (:mod:`reconciler.bundle.history`) and handed in as a
:class:`Lineage`, so every rule here is testable with plain tables.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..model.status import LOADABLE, Status


def _nowhere(_subset: str) -> str | None:
    return None


@dataclass(frozen=True, slots=True)
class Lineage:
    """One bundle's history seen through one target's carried subset.

    ``shas``, ``times`` and ``subsets`` run newest first over the commits that touched the
    bundle and are ancestors of the desired revision; ``times[i]`` is when ``shas[i]`` reached
    the tracked branch (possibly computed lazily); ``subsets[i]`` is the digest of the carried
    components at ``shas[i]`` (None when that revision did not render; possibly computed lazily,
    newest first, as far as :func:`classify` looks).
    ``elsewhere`` maps a subset digest to a commit with that content which is not an ancestor
    of the desired revision (asked only for drifted targets, so it may be lazy).
    """

    shas: list[str]
    times: Sequence[float]
    subsets: Sequence[str | None]
    elsewhere: Callable[[str], str | None] = _nowhere


@dataclass(frozen=True, slots=True)
class Classification:
    """The classification of one target for one bundle."""

    status: Status
    observed_revision: str | None = None
    behind: int | None = None
    lag_seconds: int | None = None
    matched_elsewhere: str | None = None  #: a non-ancestor commit the content equals
    #: In sync although its digest differs: the desired values, written differently (1024.0
    #: for 1024, a set in another order), which the audit says in an ``equal_but_respelled``
    #: finding.
    respelled: bool = False


def _differs() -> bool:
    return True


def classify(
    *,
    desired_subset: str,
    observed_subset: str,
    desired_revision: str,
    lineage: Lineage,
    now: float,
    behind: Callable[[str], int],
    differs: Callable[[], bool] = _differs,
) -> Classification:
    """Classify an observation that parsed (errors become missing/invalid/unreachable elsewhere).

    ``differs`` says whether the observed values differ from desired as values (numbers as
    numbers, sets as sets: design §6); it is asked only of content that equals no revision, and
    when it says no, the target is in sync, ``respelled``.

    Whether a lagging target is stalled is not decided here: :mod:`reconciler.audit.verdict` judges
    it, with the recorded rollouts and quarantines, as of now.
    """
    if observed_subset == desired_subset:
        return Classification(Status.IN_SYNC, desired_revision, 0, 0)
    try:
        index = lineage.subsets.index(observed_subset)
    except ValueError:
        elsewhere = lineage.elsewhere(observed_subset)
        if elsewhere is None and not differs():
            return Classification(Status.IN_SYNC, desired_revision, 0, 0, respelled=True)
        return Classification(Status.DRIFTED, matched_elsewhere=elsewhere)
    return Classification(
        Status.LAGGING,
        observed_revision=lineage.shas[index],
        behind=behind(lineage.shas[index]),
        lag_seconds=lag_seconds(lineage, index, now),
    )


def lag_seconds(lineage: Lineage, index: int, now: float) -> int:
    """Seconds since the first newer commit that changed a carried component (design §6)."""
    for newer in range(index - 1, -1, -1):
        if lineage.subsets[newer] != lineage.subsets[newer + 1]:
            return max(0, int(now - lineage.times[newer]))
    return 0


def probed(store: Status, store_digest: str | None, process_digest: str | None) -> Status:
    """A target's status once its serving process was probed (design §6): ``not_loaded`` when
    the store holds a revision (in sync or lagging) and the process serves other content;
    otherwise the store's status stands (an unreadable probe changes nothing)."""
    if store not in LOADABLE or process_digest is None or process_digest == store_digest:
        return store
    return Status.NOT_LOADED
