"""Signed revisions (design §10): only revisions whose commit signature verifies are applied;
a newer, unverified one is said once (an alert naming the commit and why) and never written."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import ReconcilerError
from ..model.codes import AlertCondition
from ..model.inventory import VerifySpec
from ..model.rollout import Notify
from ..revisions import revision_label


class Unverified(ReconcilerError):
    """No revision within reach has a signature that verifies: nothing may be written."""


@dataclass(frozen=True)
class Signed:
    """Signed revisions (design §10): the trust files, read from the operator's checkout."""

    root: Path  #: where the trust files live (never the commit being judged)
    spec: VerifySpec

    def last_verified(self, repo: Path, head: str) -> tuple[str | None, list[tuple[str, str]]]:
        from ..bundle.trust import last_verified

        signers = self.spec.allowed_signers
        keyring = self.spec.openpgp_keyring
        return last_verified(
            repo,
            head,
            Path(signers) if signers else None,
            openpgp_keyring=Path(keyring) if keyring else None,
            trust_root=self.root,
        )


def unverified_notice(sha: str, reason: str, verified: str | None) -> Notify:
    """The alert for an unverified revision: which commit, why, and what stays desired."""
    stays = f"{revision_label(verified)} stays desired" if verified else "nothing is desired"
    message = f"commit {revision_label(sha)} is not applied: {reason}; {stays}"
    return Notify(AlertCondition.UNVERIFIED, "firing", (), message)


def none_verified(unverified: list[tuple[str, str]]) -> Unverified:
    why = unverified[0][1] if unverified else "no commits"
    return Unverified(
        f"Unverified: no revision among the last {len(unverified)} verifies ({why}); "
        "nothing was written"
    )
