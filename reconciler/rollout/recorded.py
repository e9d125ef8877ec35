"""An audit judged with what the state store recorded (rollouts, quarantines, first sightings).

Read-only commands never create state (a CI checkout has none: git time alone decides); where
a store exists, its record is the authority, and the audit notes the first time it saw the
desired revision, so the skew clock of a fast-forward starts then, not at the commit's date.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from ..audit.auditor import Auditor
from ..audit.results import Audit
from ..audit.verdict import Recorded
from ..environment import EnvironmentRun
from ..state import open_existing
from .desired import for_environment


def judged_audit(
    repo: Path,
    environment: str,
    *,
    now: dt.datetime,
    revision: str | None = None,
    only: set[str] | None = None,
    progress: Callable[[int], Callable[[], None]] | None = None,
    deadline: float | None = None,
    state: str | None = None,
) -> Audit:
    """Audit ``environment`` and judge it as of ``now`` with the recorded state, if any."""
    run = EnvironmentRun(repo, environment, plain=True)
    with run.open():  # the inventory read once, for verify: and for the audit
        return _judged(run, now, revision, only, progress, deadline, state)


def _judged(
    run: EnvironmentRun,
    now: dt.datetime,
    revision: str | None,
    only: set[str] | None,
    progress: Callable[[int], Callable[[], None]] | None,
    deadline: float | None,
    state: str | None,
) -> Audit:
    repo, environment = run.repo_root, run.environment
    # verify: included, as converge
    chosen = for_environment(repo, environment, revision, run.inventory())
    auditor = Auditor(repo, environment, revision=chosen.require(), only=only, env_run=run)
    if deadline is not None:
        auditor.deadline = deadline
    store = open_existing(repo, state)
    if store is None:  # git time alone decides (no first sightings); verify: still counts
        survey = auditor.survey(now, progress)
        return survey.judged(Recorded(unverified=chosen.unverified), now.timestamp())
    try:
        bundles = auditor.inventory().bundles
        auditor.recorded = Recorded(
            rollouts={b: store.load_rollout(environment, b) for b in bundles},
            quarantines=store.quarantines(environment),
            first_seen=store.first_seen(environment),
            unverified=chosen.unverified,
        )
        result = auditor.run(now=now, progress=progress)
        note_staged(result, store.staged_copies(environment))
        if result.desired_revision not in auditor.recorded.first_seen:
            store.saw_revision(environment, result.desired_revision, now.timestamp())
        return result
    finally:
        store.close()


def note_staged(
    audit: Audit, copies: Mapping[tuple[str, str], Sequence[tuple[str, float | None]]]
) -> None:
    """Each target's staged digests (``staged: [digest, ...]`` in the audit JSON), as recorded."""
    for target in audit.targets:
        if target.spec.is_devices():  # a fleet's manifests are switched, not staged copies
            continue
        found = [
            f"sha256:{hex_}"
            for bundle in target.bundles
            for hex_, _ in copies.get((target.name, bundle.bundle), ())
        ]
        target.staged = found
