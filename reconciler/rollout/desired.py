"""What is desired, decided once for every command (design §10): the tracked revision, or —
with ``verify:`` — the newest one whose commit signature verifies. ``audit``, ``skew``,
``plan``, ``converge`` and the daemon all ask here, so none of them lags a fleet behind a
commit that, by design, is never applied; the newer, unverified commits go to the verdict
(:attr:`~reconciler.audit.verdict.Recorded.unverified`) as one ``unverified`` finding.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported where used: an audit without verify: loads no pydantic model
    from ..model.inventory import Inventory
    from .signed import Signed


@dataclass(frozen=True)
class Desired:
    """The revision to judge and apply (None: the tracked one as it is), and the newer
    commits that did not verify, newest first: (sha, why)."""

    revision: str | None
    unverified: tuple[tuple[str, str], ...] = ()
    none_verified: bool = False  #: with verify:, no revision within reach verifies

    def require(self) -> str | None:
        """The revision; :class:`~reconciler.rollout.signed.Unverified` when none verifies."""
        if self.none_verified:
            from .signed import none_verified

            raise none_verified(list(self.unverified))
        return self.revision


def desired(repo: Path, revision: str | None, signed: Signed | None) -> Desired:
    """The desired revision of ``repo`` at ``revision`` (None: HEAD) under ``signed``'s trust."""
    if signed is None:
        return Desired(revision)
    verified, unverified = signed.last_verified(repo, revision or "HEAD")
    return Desired(verified, tuple(unverified), none_verified=verified is None)


def for_environment(
    repo: Path, environment: str, revision: str | None, inventory: Inventory | None = None
) -> Desired:
    """:func:`desired` with the environment's own ``verify:`` (read commands have no flag);
    ``inventory``: the environment's, when the caller has read it from ``repo`` already."""
    return desired(repo, revision, signed_policy(repo, environment, False, inventory))


def signed_policy(
    trust_root: Path, environment: str, flag: bool, inventory: Inventory | None = None
) -> Signed | None:
    """Whether (and against what) signatures are verified: the inventory's ``verify:`` in the
    operator's checkout ``trust_root`` (``inventory``: read from there already), else
    ``--verify-signatures`` with the default file."""
    from ..config.inventory import load_inventory
    from ..config.trustfiles import missing_trust_file
    from ..statedir import cache_dir

    if inventory is None:
        inventory = load_inventory(trust_root, environment, cache_dir(trust_root), plain=True)
    spec = inventory.verify
    missing = missing_trust_file(trust_root, environment, spec) if spec is not None else None
    if missing is not None:
        raise missing
    if spec is None and flag:
        from ..model.inventory import VerifySpec

        spec = VerifySpec.default()
    if spec is None:
        return None
    from .signed import Signed

    return Signed(trust_root, spec)
