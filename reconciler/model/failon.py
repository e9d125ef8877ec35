"""What fails an audit (design §8): the default ``--fail-on`` words, built from the vocabulary
(:class:`~reconciler.model.status.Status`, :class:`~reconciler.model.codes.FindingCode`).

Light to import: the CLI's ``--help`` shows them without loading the library.
"""

from __future__ import annotations

from .codes import FindingCode
from .status import Status

#: Lagging alone is a rollout in progress, not a failure; a torn bundle (one agent's parts at
#: different revisions) is the background's failure itself. In design §8's order.
DEFAULT_FAIL_ON: tuple[str, ...] = tuple(
    str(word)
    for word in (
        Status.DRIFTED,
        Status.INVALID,
        Status.UNREACHABLE,
        Status.MISSING,
        FindingCode.STALLED,
        FindingCode.QUARANTINED,
        FindingCode.BREAKING,  # also the severity of a change (a breaking change fails)
        FindingCode.TORN,
        FindingCode.OUTPUT_CONTRACT,
    )
)
#: Finding codes ``--fail-on`` accepts beside statuses and severities.
FAIL_ON_FINDINGS: tuple[str, ...] = tuple(
    str(code)
    for code in (
        FindingCode.STALLED,
        FindingCode.QUARANTINED,
        FindingCode.TORN,
        FindingCode.OUTPUT_CONTRACT,
        FindingCode.UNVERIFIED,
        FindingCode.ADOPTION_STALLED,
        FindingCode.REVOKED,
        FindingCode.UNSUPPORTED,
        FindingCode.UNDECLARED_TIER,
    )
)
