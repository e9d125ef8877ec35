"""The verdict on each bundle of an audit, as of now (design §6): stalled, quarantined, or neither.

One pure function, :func:`judge`, decides it for every consumer — ``audit``, ``skew``, ``rollout
status``, the daemon's ``/status`` and metrics, the hourly CI workflow — so for the same repo,
state and clock they all say the same. Its inputs, in order of authority:

1. a **quarantine** of the desired digest (a rollback put the fleet back and holds it there):
   lagging targets are *held*, never stalled; one ``quarantined`` finding says who and when;
2. a **recorded rollout** of the desired content (``converge`` or the daemon stepped it): stalled
   when its Stalled condition is set or its progress deadline has passed since its last
   progress — whether or not any process stepped it since (:func:`~reconciler.model.rollout.
   overdue`); a canary still baking is not stalled however old the commit;
3. otherwise **git time**: a lagging target is stalled once its lag exceeds the progress deadline
   plus the bakes of the waves before its own, so a CI audit with no state catches a stall too.

Legitimate waits (design §14) stop the clock: a rollout held by a promotion or a closed change
window is never stalled while it waits within bounds (its verdict says what it waits for and
until when); a wait on a stalled upstream, or one held past ``windows.max_wait``, is stalled.
By git time, a promotion's ``soak`` adds to the deadline, and while windows are closed nothing
is stalled before ``max_wait``; once they open, the lag counts from the opening.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from ..canonical import bundle_digest
from ..model import windows as windows_
from ..model.codes import FindingCode
from ..model.duration import format_duration
from ..model.rollout import (
    Condition,
    ConditionType,
    Phase,
    Quarantine,
    Reason,
    Rollout,
    hold_overdue,
    overdue,
)
from ..model.status import Status
from ..revisions import revision_label

if TYPE_CHECKING:
    from ..model.inventory import RolloutPolicy


class Authority(StrEnum):
    """Whose word decided a bundle's verdict."""

    GIT = "git"  #: commit times alone (no recorded rollout of the desired content)
    ROLLOUT = "rollout"  #: the recorded rollout of the desired content, judged as of now
    QUARANTINE = "quarantine"  #: the desired digest is quarantined: the fleet is held


@dataclass(frozen=True)
class Recorded:
    """What the state store knows of an environment, read once before an audit is judged."""

    rollouts: Mapping[str, Rollout | None] = field(default_factory=dict)  #: by bundle
    quarantines: Sequence[Quarantine] = ()  #: the environment's active quarantines
    #: Revision -> the first time the reconciler saw it desired here (the skew clock's floor).
    first_seen: Mapping[str, float] = field(default_factory=dict)
    #: With ``verify:``, the commits newer than the desired revision whose signature does not
    #: verify, newest first: (sha, why). Never applied, so never lagged behind (no stall).
    unverified: Sequence[tuple[str, str]] = ()

    def quarantine(self, bundle: str, digest: str) -> Quarantine | None:
        """The newest active quarantine of ``bundle``'s ``digest``, if any."""
        found = [q for q in self.quarantines if (q.bundle, q.digest) == (bundle, digest)]
        return max(found, key=lambda q: q.at, default=None)


@dataclass(frozen=True)
class Verdict:
    """One bundle's verdict: who decided, stalled or not, and what holds it up."""

    bundle: str
    authority: Authority
    stalled: bool = False
    blocking: tuple[tuple[str, str], ...] = ()  #: (target, why) that hold the rollout up
    message: str = ""  #: the headline's words, e.g. "no progress for 16m05s at wave 2/3 (rest)"
    quarantine: Quarantine | None = None
    rollout: Rollout | None = None  #: the recorded rollout of the desired content, if any
    #: A legitimate wait holds it (AwaitingPromotion, WaitingForWindow): (reason, message,
    #: until as UTC seconds or None); None when nothing waits.
    waiting: tuple[str, str, float | None] | None = None

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = {
            "authority": str(self.authority),
            "stalled": self.stalled,
            "quarantined": self.quarantine is not None,
            "blocking": [{"target": t, "reason": r} for t, r in self.blocking],
            "message": self.message,
        }
        if self.waiting is not None:
            reason, message, until = self.waiting
            data["waiting"] = {
                "reason": reason,
                "message": message,
                "until": _iso(until) if until is not None else None,
            }
        if self.quarantine is not None:
            q = self.quarantine
            data["quarantine"] = {
                "revision": q.revision,
                "to_revision": q.to_revision,
                "by": q.by,
                "at": _iso(q.at),
            }
        return data


@dataclass(frozen=True)
class Judged:
    """What :func:`judge` decided for one bundle: the verdict, and each target's part in it."""

    verdict: Verdict
    stalled: frozenset[str]  #: targets marked stalled
    held: frozenset[str]  #: targets held on the rollback's content by a quarantine
    findings: tuple[tuple[FindingCode, str | None, str], ...]  #: (code, target or None, message)


@dataclass(frozen=True)
class Seen:
    """What the audit observed of one target for one bundle (the verdict's input)."""

    target: str
    status: Status
    lag_seconds: int | None
    behind: int | None
    desired_digest: str | None  #: what this target should carry (its overlay, its subset)
    reason: str = ""  #: why it is not in sync, e.g. "unreachable: connection refused (...)"


def fleet_digest(seen: Iterable[Seen]) -> str:
    """What the fleet should carry for a bundle: every target's desired digest, by name."""
    return bundle_digest({s.target: s.desired_digest for s in seen if s.desired_digest})


def rollout_stall(
    rollout: Rollout, policy: RolloutPolicy, now: float
) -> tuple[bool, tuple[tuple[str, str], ...], str]:
    """Whether a recorded rollout is stalled as of ``now``, what blocks it, and the words."""
    if not overdue(rollout, policy.progress_deadline, now):
        return False, (), ""
    stall = rollout.conditions.get(ConditionType.STALLED)
    if stall is not None and stall.reason == Reason.TARGET_REJECTED:
        return True, rollout.blocking(), stall.message  # doomed before its deadline
    held = rollout.held
    if held is not None and not rollout.stalled:
        why = hold_overdue(held, now)
        if not why:  # the wait ended (as last stepped) and nobody stepped the rollout since
            late = format_duration(now - (held.until or now))
            why = f"no progress for {late} since its wait ended ({held.message})"
        return True, rollout.blocking(), why
    last = max(rollout.started_at, rollout.last_progress_at)
    if rollout.wave_ready_at is not None and rollout.wave < len(rollout.bakes):
        last = max(last, rollout.wave_ready_at + rollout.bakes[rollout.wave])
    wave = f"wave {min(rollout.wave + 1, len(rollout.waves))}/{len(rollout.waves)}"
    name = rollout.waves[rollout.wave] if rollout.wave < len(rollout.waves) else "done"
    paused = (
        f", paused by {rollout.pause.by}: {rollout.pause.reason}"
        if rollout.phase is Phase.PAUSED and rollout.pause
        else ""
    )
    message = f"no progress for {format_duration(now - last)} at {wave} ({name}){paused}"
    return True, rollout.blocking(), message


@dataclass(frozen=True)
class Current:
    """One of a rollout's conditions as of now."""

    condition: Condition
    #: Judged as of now, not recorded: the rollout is overdue, though nothing stepped it since.
    as_of_now: bool = False


#: What an as-of-now Stalled condition adds to the verdict's words.
AS_OF_NOW = "as of now: nothing has stepped the rollout since"


def current_conditions(rollout: Rollout, policy: RolloutPolicy, now: float) -> tuple[Current, ...]:
    """The rollout's conditions as of ``now``, for every consumer (``rollout status``, the page):
    those recorded at its last step, plus Stalled when it is overdue since (:func:`overdue`)."""
    recorded = tuple(Current(c) for c in rollout.conditions.values())
    stalled, _, message = rollout_stall(rollout, policy, now)
    if not stalled or rollout.stalled:
        return recorded
    stall = Condition(
        ConditionType.STALLED,
        True,
        Reason.DEADLINE,
        f"{message} ({AS_OF_NOW})",
        rollout.to_revision,
        rollout.deadline(policy.progress_deadline),
    )
    return (*recorded, Current(stall, as_of_now=True))


def judge(
    bundle: str,
    seen: Sequence[Seen],
    policy: RolloutPolicy,
    *,
    desired_digest: str,
    recorded: Recorded | None,
    now: float,
    label: Callable[[str], str] = revision_label,
    windows: Any = None,
    soak: float = 0.0,
) -> Judged:
    """The verdict on ``bundle`` as of ``now`` (see the module's docstring for the rules).

    ``windows``: the inventory's ``windows:`` (None: none); ``soak``: its promotion's soak.
    """
    record = recorded or Recorded()
    held = record.quarantine(bundle, desired_digest)
    if held is not None:
        return _quarantined(bundle, seen, held, label)
    rollout = record.rollouts.get(bundle)
    active = rollout is not None and rollout.phase is not Phase.ABORTED
    if rollout is not None and active and rollout.digest == fleet_digest(seen):
        return _by_rollout(bundle, seen, rollout, policy, now)
    return _by_git(bundle, seen, policy, _git_clock(windows, now), soak)


def _git_clock(windows: Any, now: float) -> tuple[float | None, float | None, str]:
    """By git time, with windows: (seconds since the open window opened, the closed window's
    bound: max_wait, its words); (None, None, "") without windows."""
    if windows is None:
        return None, None, ""
    found = windows_.state(windows, now)
    if found.open:
        return now - windows_.opened_at(windows, now), None, ""
    bound = windows.max_wait if windows.max_wait is not None else float("inf")
    return None, bound, f"{found.why}; {windows_.opens(windows, found)}"


def unverified_finding(
    recorded: Recorded | None, desired: str, label: Callable[[str], str] = revision_label
) -> str | None:
    """The words of the audit's one ``unverified`` finding (None: every newer commit verifies).

    Every command judges against the same desired revision — with ``verify:``, the newest one
    whose signature verifies — so an unsigned tip is this finding, never a stall."""
    if recorded is None or not recorded.unverified:
        return None
    sha, why = recorded.unverified[0]
    more = len(recorded.unverified) - 1
    before = f" (and {more} unverified commit(s) before it)" if more else ""
    return f"commit {label(sha)} is not applied: {why}{before}; {label(desired)} stays desired"


def _quarantined(
    bundle: str, seen: Sequence[Seen], q: Quarantine, label: Callable[[str], str]
) -> Judged:
    held = frozenset(s.target for s in seen if s.status is Status.LAGGING)
    to = f" to {label(q.to_revision)}" if q.to_revision else ""
    message = (
        f"desired content of {bundle} ({label(q.revision)}) was rolled back{to} by {q.by} at "
        f"{_iso(q.at)}: {len(held)} target(s) held on the rollback's content; a commit that "
        "changes the bundle, or `reconciler rollout resume`, lifts it"
    )
    verdict = Verdict(bundle, Authority.QUARANTINE, message=message, quarantine=q)
    return Judged(verdict, frozenset(), held, ((FindingCode.QUARANTINED, None, message),))


def _blocking_now(rollout: Rollout, seen: Sequence[Seen]) -> tuple[tuple[str, str], ...]:
    """What holds the rollout's current wave up, by what the audit sees now (the record may be
    older: a rollout nobody stepped since still names the targets that really block it)."""
    current = {s.target: s for s in seen}
    out = []
    for name, t in sorted(rollout.targets.items()):
        if t.wave > rollout.wave:
            continue
        now = current.get(name)
        if now is not None and now.status is not Status.IN_SYNC:
            out.append((name, now.reason or str(now.status)))
        elif now is None and not t.converged:
            out.append((name, t.reason or "not converged"))
        elif t.converged and t.healthy is False and not t.advisory:
            out.append((name, f"health failing ({t.fail_streak} checks in a row)"))
    return tuple(out)


def _by_rollout(
    bundle: str, seen: Sequence[Seen], rollout: Rollout, policy: RolloutPolicy, now: float
) -> Judged:
    stalled, _, message = rollout_stall(rollout, policy, now)
    blocking = _blocking_now(rollout, seen) if stalled else ()
    held = rollout.held
    waiting = (held.reason, held.message, held.until) if held is not None and not stalled else None
    verdict = Verdict(
        bundle, Authority.ROLLOUT, stalled, blocking, message, rollout=rollout, waiting=waiting
    )
    if not stalled:
        return Judged(verdict, frozenset(), frozenset(), ())
    names = {s.target for s in seen}
    marked = frozenset(t for t, _ in blocking if t in names)
    findings = tuple(
        (FindingCode.STALLED, target, f"rollout {message} — {why}") for target, why in blocking
    ) or ((FindingCode.STALLED, None, f"rollout {message}"),)
    return Judged(verdict, marked, frozenset(), findings)


def _by_git(
    bundle: str,
    seen: Sequence[Seen],
    policy: RolloutPolicy,
    clock: tuple[float | None, float | None, str],
    soak: float,
) -> Judged:
    opened, closed_bound, closed = clock

    def overdue_lag(s: Seen) -> bool:
        lag = float(s.lag_seconds or 0)
        allowed = policy.stall_after(s.target) + soak
        if closed_bound is not None:  # held by a closed window: stalled only past max_wait
            return lag > allowed + closed_bound
        if opened is not None:  # the window opened `opened` seconds ago: the clock restarted
            lag = min(lag, opened)
        return lag > allowed

    lagging = [s for s in seen if s.status is Status.LAGGING]
    late = [s for s in lagging if overdue_lag(s)]
    findings = tuple(
        (
            FindingCode.STALLED,
            s.target,
            f"lagging on {bundle} for {format_duration(s.lag_seconds or 0)} "
            f"({s.behind} commit(s) behind), past the progress deadline",
        )
        for s in late
    )
    blocking = tuple((s.target, f"lagging for {format_duration(s.lag_seconds or 0)}") for s in late)
    message = f"{len(late)} target(s) lagging past the progress deadline" if late else ""
    waiting = None
    if closed and lagging and not late:
        waiting = (str(Reason.WAITING_FOR_WINDOW), closed, None)
    verdict = Verdict(bundle, Authority.GIT, bool(late), blocking, message, waiting=waiting)
    return Judged(verdict, frozenset(s.target for s in late), frozenset(), findings)


def _iso(moment: float) -> str:
    return (
        dt.datetime.fromtimestamp(moment, dt.UTC)
        .isoformat(timespec="seconds")
        .replace("+00:00", "Z")
    )
