"""What a person asks of a rollout (design §8, §10): converge, dry-run, rollback, pause, resume,
abort. Each returns plain results; the CLI only prints them."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

from ..audit.results import Audit
from ..errors import ReconcilerError
from ..model.rollout import Apply, Hold, Notify, Phase, Quarantine, Rollout
from ..model.status import Status
from . import engine, notes, steering, waits
from .act import WriteThenFetch
from .driver import Driver
from .step import Step
from .writer import COMMAND_TTL, Writer, holder_name


def converge(
    driver: Driver,
    timeout: float | None,
    *,
    sleep: Callable[[float], None] = time.sleep,
    poll: float = 0.5,
    on_step: Callable[[Step], None] | None = None,
) -> tuple[int, Step]:
    """Step until complete (0), or blocked or out of time (2), holding the environment's lease.

    Another live writer: :class:`~reconciler.state.interface.LeaseHeld` before anything is
    written. Pre-empted on the way (a rollback): :class:`~reconciler.state.interface.Deposed`,
    after which nothing more is written.
    """
    # One environment run for the whole command: one event loop and HTTP pool for every step.
    with _writing(driver, "converge", preempt=False), driver.run.open():
        started = driver.clock()
        if timeout is not None:  # every wait of every step, gate queries included
            driver.observer.deadline = time.monotonic() + timeout
        while True:
            step = driver.step()
            if on_step is not None:
                on_step(step)
            if step.complete:
                return 0, step
            if step.blocked:
                return 2, step
            left = None if timeout is None else started + timeout - driver.clock()
            if left is not None and left <= 0:
                return 2, step
            sleep(poll if left is None else min(poll, left))


@contextmanager
def _writing(driver: Driver, role: str, *, preempt: bool) -> Iterator[Writer]:
    """Hold the environment's lease for the length of a command; release it after."""
    before = driver.writer
    writer = Writer(driver.store, driver.environment, holder_name(role, driver.user))
    writer.take(preempt=preempt)
    driver.writer = writer
    try:
        yield writer
    finally:
        writer.give_up()
        driver.writer = before


def dry_run(driver: Driver, waiting: dict[str, str] | None = None) -> dict[str, list[str] | None]:
    """What one step would apply, per bundle (None: the desired digest is quarantined).

    ``waiting`` is filled with what holds each bundle that would wait (a promotion, a closed
    window), with until when."""
    with driver.run.open():
        return _dry_run(driver, waiting)


def _dry_run(driver: Driver, waiting: dict[str, str] | None) -> dict[str, list[str] | None]:
    sighting = driver.sight()
    survey = sighting.survey
    now = driver.clock()
    planned: dict[str, list[str] | None] = {}
    for bundle in survey.inventory.bundles:
        digest = survey.desired[bundle].digest
        if driver.store.quarantined(driver.environment, bundle, digest) is not None:
            planned[bundle] = None
            continue
        rollout = driver.current(sighting, bundle, now, persist=False)
        policy = survey.inventory.rollout
        evals = driver.awaiting_eval(survey, bundle)  # require_eval: nothing would be applied
        wait = waits.wait(driver.repo_root, driver.store, survey.inventory, rollout, now)
        seen = sighting.observations(bundle)
        after, actions = engine.advance(rollout, policy, seen, now, awaiting_eval=evals, wait=wait)
        if waiting is not None and after.held is not None:
            waiting[bundle] = report_waiting(after, now)
        planned[bundle] = [a.target for a in actions if isinstance(a, Apply)]
    return planned


class WindowClosed(ReconcilerError):
    """``windows.rollback: in_window`` and the window is closed: nothing is written."""


def report_waiting(r: Rollout, now: float) -> str:
    """The wait's reason and words, with how long is left where it is known."""
    held: Hold | None = r.held
    if held is None:
        return ""
    left = f" (until {_iso(held.until)})" if held.until is not None else ""
    return f"{held.reason}: {held.message}{left}"


def _iso(moment: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(moment, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


@dataclass(frozen=True)
class RolledBack:
    """What ``rollback`` did: exit code, the verifying audit, seconds, what it failed to do."""

    code: int
    audit: Audit
    elapsed: float
    unwritten: dict[str, str]  #: target -> why its write failed
    alert_errors: list[str]  #: alerts that could not be sent
    #: Targets switched back to a staged copy (no content uploaded).
    switched: list[str] = field(default_factory=list)
    #: Target -> why it was written in full (its staged copy was gone).
    fallback: dict[str, str] = field(default_factory=dict)


def rollback(driver: Driver, to: str) -> RolledBack:
    """Put ``to`` on every target at once, verify by re-fetching, quarantine the desired digest.

    Each target is written and re-fetched by the same worker in one pass: the verifying audit
    is the rollback itself, not a second trip over the fleet. A rollback pre-empts whoever
    writes the environment (a converge, the daemon): it takes the lease with a higher token,
    so that writer writes nothing more. A write of theirs already in flight must not land after
    the rollback verified: it waits until the pre-empted writer released (bounded by that
    lease's TTL), then verifies again and writes again any target that changed since.
    """
    with driver.run.open():  # one inventory read, one event loop and HTTP pool for it all
        return _rollback(driver, to)


def _rollback(driver: Driver, to: str) -> RolledBack:
    repo = driver.run.repo
    desired = repo.commit(driver.revision or "HEAD").hexsha
    target_sha = repo.commit(to).hexsha
    if target_sha == desired:
        raise ReconcilerError(f"--to {to} is the desired revision: nothing to roll back")
    inventory = driver.inventory()
    closed = waits.rollback_allowed(inventory.windows, driver.clock())
    if closed:
        raise WindowClosed(f"rollback refused: {closed}")
    with _writing(driver, "rollback", preempt=True) as writer:
        return _roll_back(driver, writer, to, desired, target_sha)


def _roll_back(
    driver: Driver, writer: Writer, to: str, desired: str, target_sha: str
) -> RolledBack:
    started = time.perf_counter()
    now = driver.clock()
    inventory = driver.inventory()
    names = [t.name for t in inventory.targets]
    documents = {
        (target, bundle): document
        for bundle in inventory.bundles
        for target, document in driver.documents.for_targets(bundle, target_sha, names).items()
    }
    first = WriteThenFetch(documents, fence=writer.check)
    after = _verified(driver, target_sha, first, now)
    failed = dict(first.failed)
    info = driver.store.lease(driver.environment)
    if info is not None and not info.previous_done:
        # Someone was writing: once they stopped, look again, and put back what they changed.
        writer.wait_for_previous(timeout=COMMAND_TTL)
        after = _verified(driver, target_sha, WriteThenFetch({}), now)
        again = {job: doc for job, doc in documents.items() if _changed(after, job)}
        if again:
            second = WriteThenFetch(again, fence=writer.check)
            after = _verified(driver, target_sha, second, now)
            failed = {job: e for job, e in failed.items() if job not in again} | second.failed
            first.switched.update(second.switched)
            first.fallback.update(second.fallback)
    elapsed = time.perf_counter() - started
    for bundle in inventory.bundles:
        served = [(t, h) for (t, b), h in first.switched.items() if b == bundle]
        if served:
            driver.store.record_served(driver.environment, bundle, served, now)
    for bundle in inventory.bundles:
        driver.actor.record(
            bundle, target_sha, names, {t: e for (t, b), e in failed.items() if b == bundle}
        )
    unwritten = {t: f"apply failed: {e}" for (t, _), e in failed.items()}
    alert_errors: list[str] = []  # an alert that fails is said, but the rollback is done
    for bundle in inventory.bundles:
        bad = driver.documents.digest(bundle, desired)
        held = Quarantine(driver.environment, bundle, bad, desired, now, driver.user, target_sha)
        driver.store.quarantine(held)
        notes.record(driver.repos, held)
        rollout = driver.store.load_rollout(driver.environment, bundle)
        if rollout is not None and rollout.phase is not Phase.ABORTED:
            ended, notices = steering.rolled_back(rollout, driver.user, to, now)
            event = ("rolled_back", {"bundle": bundle, "to": target_sha, "by": driver.user})
            alert_errors += _end(driver, rollout, ended, notices, event)
    # Done when every target re-fetches REV: a write that failed where the target holds REV
    # anyway (another writer put it there) does not undo that.
    stores = [t for t in after.targets if not t.spec.is_devices()]  # fleets: never awaited
    verified = all(t.status is Status.IN_SYNC for t in stores)
    for bundle in inventory.bundles:  # GitHub: the rolled-back-from deployment ends
        driver.notifier.lifecycle(inventory, bundle, "rolled_back", desired, now)
        if verified:
            driver.notifier.lifecycle(inventory, bundle, "complete", target_sha, now)
    return RolledBack(
        0 if verified else 2,
        after,
        elapsed,
        unwritten,
        alert_errors,
        sorted({t for t, _ in first.switched}),
        {t: why for (t, _), why in first.fallback.items()},
    )


def _verified(driver: Driver, revision: str, fetcher: WriteThenFetch, now: float) -> Audit:
    """One pass over the fleet: write what ``fetcher`` holds, re-fetch every target, judge."""
    auditor = driver.observer.auditor(revision=revision)
    auditor.fetcher = fetcher
    return auditor.survey(driver.moment()).judged(None, now)


def _changed(after: Audit, job: tuple[str, str]) -> bool:
    """Whether that target's bundle no longer holds the rollback's content."""
    target, bundle = job
    for result in after.targets:
        if result.name == target:
            found = [b for b in result.bundles if b.bundle == bundle]
            return any(b.status is not Status.IN_SYNC for b in found)
    return True


def abort(
    driver: Driver, rollout: Rollout, by: str, event: tuple[str, Mapping[str, object]]
) -> list[str]:
    """Abort ``rollout``, persist it with ``event``, resolve the alerts it raised."""
    aborted, actions = steering.abort(rollout, by, driver.clock())
    return _end(driver, rollout, aborted, actions, event)


def _end(
    driver: Driver,
    rollout: Rollout,
    ended: Rollout,
    actions: list[Notify],
    event: tuple[str, Mapping[str, object]],
) -> list[str]:
    """Persist an ended rollout with ``event`` and send the notices ending it raised."""
    now = driver.clock()
    driver.store.save_rollout(ended, now, [event])
    inventory = driver.inventory()
    errors: list[str] = []
    for action in actions:
        if isinstance(action, Notify):
            errors += driver.notifier.send(
                inventory, rollout.bundle, action, now, rollout.to_revision
            )
    return errors


def steer(driver: Driver, verb: str, reason: str | None) -> list[str]:
    """``rollout pause|resume|abort``: one line per bundle saying what happened (and errors).

    A person steering takes the environment's lease for the moment of the write (pre-empting a
    running converge or the daemon's step, which then write nothing more this step): a pause is
    never overwritten by a step that read the rollout just before it.
    """
    with _writing(driver, f"rollout {verb}", preempt=True):
        return _steer(driver, verb, reason)


def _steer(driver: Driver, verb: str, reason: str | None) -> list[str]:
    now = driver.clock()
    env = driver.environment
    inventory = driver.inventory()
    lines: list[str] = []
    for bundle in inventory.bundles:
        current = driver.store.load_rollout(env, bundle)
        if verb == "resume" and driver.store.lift_quarantine(env, bundle, driver.user, now):
            notes.lift(driver.repos, env, bundle)
            lines.append(f"{bundle}: quarantine lifted by {driver.user}")
        if current is None:
            lines.append(f"{bundle}: no rollout to {verb}")
            continue
        event = (verb, {"bundle": bundle, "by": driver.user, "reason": reason})
        if verb == "abort":
            lines += [f"  error: {e}" for e in abort(driver, current, driver.user, event)]
            lines.append(f"{bundle}: aborted")
            continue
        if verb == "pause":
            changed = steering.pause(current, driver.user, reason or "paused by hand", now)
        else:
            changed = steering.resume(current, now)
        driver.store.save_rollout(changed, now, [event])
        lines.append(f"{bundle}: {changed.phase}")
    return lines
