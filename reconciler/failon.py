"""What fails an audit (design §8): the default ``--fail-on`` words (import-free: the CLI's
``--help`` shows them without loading the library)."""

from __future__ import annotations

#: Lagging alone is a rollout in progress, not a failure; a torn bundle (one agent's parts at
#: different revisions) is the background's failure itself.
DEFAULT_FAIL_ON: tuple[str, ...] = (
    "drifted",
    "invalid",
    "unreachable",
    "missing",
    "stalled",
    "quarantined",
    "breaking",
    "torn",
    "output_contract",
)
#: Finding codes ``--fail-on`` accepts beside statuses and severities.
FAIL_ON_FINDINGS: tuple[str, ...] = (
    "stalled",
    "quarantined",
    "torn",
    "output_contract",
    "unverified",
    "adoption_stalled",
    "revoked",
    "unsupported",
)
