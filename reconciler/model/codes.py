"""Finding codes: what an audit tells a person beyond each target's status (design §6, §8).

A closed set; consumers of the audit JSON must tolerate new codes all the same.
"""

from __future__ import annotations

from enum import StrEnum


class FindingCode(StrEnum):
    """The ``code`` of a finding."""

    STALLED = "stalled"  #: the rollout made no progress for progress_deadline (the verdict)
    QUARANTINED = "quarantined"  #: the desired digest was rolled back from; targets are held
    TORN = "torn"  #: one group's targets (a region's agent) run different revisions
    BREAKING = "breaking"  #: a target runs the bundle across a breaking change
    OUTPUT_CONTRACT = "output_contract"  #: the agent's outputs break its output schema
    OUTPUTS_UNCHECKED = "outputs_unchecked"  #: a target's outputs could not be read or checked
    EVAL = "eval"  #: plan: whether an eval of the new digest exists (model, prompt, tool changes)
    MISSTATED_DIGEST = "misstated_digest"  #: a target states a digest its content lacks
    NOT_AN_ANCESTOR = "not_an_ancestor"  #: content equals a commit off the desired ancestry
    EQUAL_BUT_RESPELLED = "equal_but_respelled"  #: desired values, written differently
    IGNORE_EXPIRED = "ignore_expired"  #: an ignore rule's date passed: its differences count
    MODEL_ALIAS = "model_alias"  #: a model pinned to an alias, not a dated version
    WAITING = "waiting"  #: plan: the rollout would wait (a promotion, a closed window), until when
    CANARY = "canary"  #: plan: the change goes out as a traffic canary, with these steps
    UNVERIFIED = "unverified"  #: a newer commit's signature does not verify: never applied
    ADOPTION_STALLED = "adoption_stalled"  #: a device tier is not adopting the desired digest
    REVOKED = "revoked"  #: devices still run a digest a rollback revoked (it cannot be forced)
    UNSUPPORTED = "unsupported"  #: devices run a revision older than the target's min_supported
    UNDECLARED_TIER = "undeclared_tier"  #: telemetry reports a device tier the bundle lacks
