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


class Level(StrEnum):
    """How loud a finding or an alert is (a finding's ``level``; an alert is an error or a
    warning)."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


class AlertCondition(StrEnum):
    """What an alert is raised for (the rollout engine's and the notifier's; ``alerts[].on``)."""

    STALLED = "stalled"  #: no target converged for progress_deadline
    PAUSED = "paused"  #: by a person or a failing health gate
    QUARANTINED = "quarantined"  #: the desired digest was rolled back from
    DRIFTED = "drifted"  #: a converged target's content moved by hand
    HEALTH = "health"  #: an advisory health check failing
    ROLLBACK_IMPOSSIBLE = "rollback_impossible"  #: what a target ran before is unknown
    ROLLBACK_FAILED = "rollback_failed"  #: a write of on_stall's rollback failed
    UNVERIFIED = "unverified"  #: a newer revision's signature did not verify
    SWITCH_REVERTED = "switch_reverted"  #: a group switch failed on a part: all went back
    TORN = "torn"  #: a group switch failed and could not go back whole


class Moment(StrEnum):
    """A moment of a deployment's life that is not an alert (GitHub deployments alone hear it)."""

    DEPLOYING = "deploying"  #: its rollout started
    COMPLETE = "complete"  #: every target runs it (after a rollback: runs it again)
    SUPERSEDED = "superseded"  #: a newer revision's rollout started
    ROLLED_BACK = "rolled_back"  #: ``reconciler rollback`` put an older revision back
