"""Classification tables (design §6): status, observed revision, behind, lag.

Whether a lag is a stall is the verdict's call (tests/core/test_verdict.py)."""

from __future__ import annotations

import pytest

from reconciler.diff.classify import Lineage, classify, lag_seconds, probed
from reconciler.model.status import Status, worst_status

# Three revisions, newest first: c3 (changed a tool only), c2 (changed the prompt), c1.
# Subset digests as a target carrying everything sees them, and as a prompt-only POP sees them.
ALL = Lineage(shas=["c3", "c2", "c1"], times=[3000.0, 2000.0, 1000.0], subsets=["A3", "A2", "A1"])
POP = Lineage(shas=["c3", "c2", "c1"], times=[3000.0, 2000.0, 1000.0], subsets=["P2", "P2", "P1"])


def _run(lineage: Lineage, observed: str, now: float = 5000.0):
    behind = {"c3": 0, "c2": 1, "c1": 2}
    return classify(
        desired_subset=lineage.subsets[0] or "",
        observed_subset=observed,
        desired_revision="c3",
        lineage=lineage,
        now=now,
        behind=behind.__getitem__,
    )


@pytest.mark.parametrize(
    ("lineage", "observed", "status", "revision", "behind", "lag"),
    [
        (ALL, "A3", Status.IN_SYNC, "c3", 0, 0),
        (ALL, "A2", Status.LAGGING, "c2", 1, 2000),
        (ALL, "A1", Status.LAGGING, "c1", 2, 3000),
        (ALL, "ZZ", Status.DRIFTED, None, None, None),
        # A POP carrying prompts only is not behind on c3's tool change: it is in sync.
        (POP, "P2", Status.IN_SYNC, "c3", 0, 0),
        # On c1 it lags since c2, the first newer commit that changed what it carries.
        (POP, "P1", Status.LAGGING, "c1", 2, 3000),
    ],
)
def test_classification_table(lineage, observed, status, revision, behind, lag) -> None:
    verdict = _run(lineage, observed)
    assert verdict.status is status
    assert verdict.observed_revision == revision
    assert verdict.behind == behind
    assert verdict.lag_seconds == lag


def test_lag_counts_from_first_carried_change_not_newest_commit() -> None:
    assert lag_seconds(POP, 2, now=10_000.0) == 10_000 - 2000


def test_drifted_names_a_non_ancestor_match() -> None:
    lineage = Lineage(["c2", "c1"], [2.0, 1.0], ["A2", "A1"], elsewhere={"B": "side"}.get)
    verdict = classify(
        desired_subset="A2",
        observed_subset="B",
        desired_revision="c2",
        lineage=lineage,
        now=3.0,
        behind=lambda _: 0,
    )
    assert verdict.status is Status.DRIFTED
    assert verdict.matched_elsewhere == "side"


def test_worst_status_order() -> None:
    order = ["in_sync", "lagging", "not_loaded", "missing", "drifted", "invalid", "unreachable"]
    assert [s.value for s in Status] == order
    assert worst_status([Status.LAGGING, Status.MISSING, Status.IN_SYNC]) is Status.MISSING
    assert worst_status([]) is Status.IN_SYNC


def test_equal_values_written_differently_are_in_sync_respelled() -> None:
    # Content that equals no revision, but whose values equal desired (1024.0 for 1024):
    # classification itself says in sync, and that it is respelled.
    asked: list[bool] = []

    def differs() -> bool:
        asked.append(True)
        return False

    verdict = classify(
        desired_subset="A2",
        observed_subset="B",
        desired_revision="c2",
        lineage=Lineage(["c2", "c1"], [2.0, 1.0], ["A2", "A1"]),
        now=3.0,
        behind=lambda _: 0,
        differs=differs,
    )
    assert (verdict.status, verdict.observed_revision, verdict.behind) == (Status.IN_SYNC, "c2", 0)
    assert verdict.respelled and asked == [True]
    # Content equal to a commit off the ancestry stays drifted: values are not compared.
    off = Lineage(["c2", "c1"], [2.0, 1.0], ["A2", "A1"], elsewhere={"B": "side"}.get)
    kept = classify(
        desired_subset="A2",
        observed_subset="B",
        desired_revision="c2",
        lineage=off,
        now=3.0,
        behind=lambda _: 0,
        differs=differs,
    )
    assert kept.status is Status.DRIFTED and not kept.respelled and asked == [True]


@pytest.mark.parametrize(
    ("store", "store_digest", "process_digest", "status"),
    [
        (Status.IN_SYNC, "A", "B", Status.NOT_LOADED),
        (Status.LAGGING, "A", "B", Status.NOT_LOADED),
        (Status.IN_SYNC, "A", "A", Status.IN_SYNC),  # the process serves what the store holds
        (Status.IN_SYNC, "A", None, Status.IN_SYNC),  # the probe could not be read
        (Status.DRIFTED, "A", "B", Status.DRIFTED),  # only a stored revision can be not loaded
        (Status.UNREACHABLE, None, "B", Status.UNREACHABLE),
    ],
)
def test_not_loaded_is_decided_by_classification(store, store_digest, process_digest, status):
    assert probed(store, store_digest, process_digest) is status
