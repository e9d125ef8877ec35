"""The trail (design §15): every mutating command leaves one event in state — who ran it, when,
what, for which environment, bundles and digests, why (``--reason``), and how it ended.

Events of kind :data:`KIND` sit in the same event log as the rollout's own (phase, wave, alert):
the page's timeline and ``reconciler events`` read them from there.
"""

from __future__ import annotations

import getpass
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..bundle.gitrepo import git
from ..errors import ReconcilerError
from ..state.interface import StateStore

#: The event kind of a command in the event log.
KIND = "command"
#: Commands that need ``--reason`` when the inventory says ``require_reason: true``.
NEEDS_REASON = frozenset({"rollback", "rollout resume", "rollout abort"})
#: The variable naming who runs a command when ``--as`` does not.
ACTOR_VARIABLE = "RECONCILER_ACTOR"
#: How a command's exit code reads in the trail.
OUTCOMES = {0: "succeeded", 1: "failed", 2: "incomplete"}


def actor(explicit: str | None, environ: Mapping[str, str], repo: Path) -> str:
    """Who runs the command: ``--as``, else $RECONCILER_ACTOR, else git's ``user.email``, else
    the OS user."""
    if explicit:
        return explicit
    if environ.get(ACTOR_VARIABLE):
        return environ[ACTOR_VARIABLE]
    try:
        found = git(repo, "config", "user.email", text=True, timeout=5).stdout.strip()
    except (OSError, ReconcilerError):
        found = ""
    if found:
        return found
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown user"


def require_reason(command: str, environment: str, needed: bool, reason: str | None) -> None:
    """A one-line error when the inventory requires a reason for ``command`` and none was given."""
    if needed and command in NEEDS_REASON and not (reason and reason.strip()):
        raise ReconcilerError(
            f"{command} --env {environment}: --reason is required "
            f"(targets/{environment}.yaml sets require_reason: true); nothing was done"
        )


def record(
    store: StateStore,
    environment: str,
    at: float,
    *,
    who: str,
    command: str,
    outcome: str,
    reason: str | None = None,
    bundles: Sequence[str] = (),
    digests: Mapping[str, str] | None = None,
    details: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Write one command's event; the data written."""
    data: dict[str, Any] = {
        "by": who,
        "command": command,
        "outcome": outcome,
        "reason": reason,
        "bundles": list(bundles),
        "digests": dict(digests or {}),
        **dict(details or {}),
    }
    store.record_event(environment, KIND, data, at)
    return data


def read(store: StateStore, environment: str, since: float, limit: int = 10_000) -> list[dict]:
    """The commands recorded in ``environment`` at or after ``since``, oldest first."""
    return [
        event
        for event in store.events(environment, limit)
        if event["kind"] == KIND and event["at"] >= since
    ]
