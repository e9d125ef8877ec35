"""What a person asks of a rollout (design §8, §10): converge, dry-run, rollback, pause, resume,
abort. Each returns plain results; the CLI only prints them."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from ..classify import Status
from ..errors import ReconcilerError
from ..model.rollout import Action, Apply, Notify, Phase, Quarantine, Rollout
from ..results import Audit
from . import engine
from .act import WriteThenFetch
from .driver import Driver, Step


def converge(
    driver: Driver,
    timeout: float | None,
    *,
    sleep: Callable[[float], None] = time.sleep,
    poll: float = 0.5,
    on_step: Callable[[Step], None] | None = None,
) -> tuple[int, Step]:
    """Step until complete (0), or blocked or out of time (2)."""
    started = driver.clock()
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


def dry_run(driver: Driver) -> dict[str, list[str] | None]:
    """What one step would apply, per bundle (None: the desired digest is quarantined)."""
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
        _, actions = engine.advance(rollout, policy, sighting.observations(bundle), now)
        planned[bundle] = [a.target for a in actions if isinstance(a, Apply)]
    return planned


@dataclass(frozen=True)
class RolledBack:
    """What ``rollback`` did: exit code, the verifying audit, seconds, what it failed to do."""

    code: int
    audit: Audit
    elapsed: float
    unwritten: dict[str, str]  #: target -> why its write failed
    alert_errors: list[str]  #: alerts that could not be sent


def rollback(driver: Driver, to: str) -> RolledBack:
    """Put ``to`` on every target at once, verify by re-fetching, quarantine the desired digest.

    Each target is written and re-fetched by the same worker in one pass: the verifying audit
    is the rollback itself, not a second trip over the fleet.
    """
    from ..gitrepo import GitRepo

    repo = GitRepo(driver.repo_root)
    try:
        desired = repo.commit(driver.revision or "HEAD").hexsha
        target_sha = repo.commit(to).hexsha
    finally:
        repo.close()
    if target_sha == desired:
        raise ReconcilerError(f"--to {to} is the desired revision: nothing to roll back")
    started = time.perf_counter()
    now = driver.clock()
    inventory = driver.observer.auditor().inventory()
    names = [t.name for t in inventory.targets]
    documents = {
        (target, bundle): document
        for bundle in inventory.bundles
        for target, document in driver.documents.for_targets(bundle, target_sha, names).items()
    }
    writer = WriteThenFetch(documents)
    auditor = driver.observer.auditor(revision=target_sha)
    auditor.fetcher = writer
    after = auditor.observe(driver.moment()).judged(None, now)
    elapsed = time.perf_counter() - started
    for bundle in inventory.bundles:
        failed = {t: e for (t, b), e in writer.failed.items() if b == bundle}
        driver.actor.record(bundle, target_sha, names, failed)
    unwritten = {t: f"apply failed: {e}" for (t, _), e in writer.failed.items()}
    alert_errors: list[str] = []  # an alert that fails is said, but the rollback is done
    for bundle in inventory.bundles:
        bad = driver.documents.digest(bundle, desired)
        held = Quarantine(driver.environment, bundle, bad, desired, now, driver.user, target_sha)
        driver.store.quarantine(held)
        rollout = driver.store.load_rollout(driver.environment, bundle)
        if rollout is not None and rollout.phase is not Phase.ABORTED:
            ended, notices = engine.rolled_back(rollout, driver.user, to, now)
            event = ("rolled_back", {"bundle": bundle, "to": target_sha, "by": driver.user})
            alert_errors += _end(driver, rollout, ended, notices, event)
    # Done when every target re-fetches REV: a write that failed where the target holds REV
    # anyway (another writer put it there) does not undo that.
    verified = all(t.status is Status.IN_SYNC for t in after.targets)
    return RolledBack(0 if verified else 2, after, elapsed, unwritten, alert_errors)


def abort(
    driver: Driver, rollout: Rollout, by: str, event: tuple[str, dict[str, object]]
) -> list[str]:
    """Abort ``rollout``, persist it with ``event``, resolve the alerts it raised."""
    aborted, actions = engine.abort(rollout, by, driver.clock())
    return _end(driver, rollout, aborted, actions, event)


def _end(
    driver: Driver,
    rollout: Rollout,
    ended: Rollout,
    actions: list[Action],
    event: tuple[str, dict[str, object]],
) -> list[str]:
    """Persist an ended rollout with ``event`` and send the notices ending it raised."""
    now = driver.clock()
    driver.store.save_rollout(ended, now, [event])
    inventory = driver.observer.auditor().inventory()
    errors: list[str] = []
    for action in actions:
        if isinstance(action, Notify):
            errors += driver.notifier.send(
                inventory, rollout.bundle, action, now, rollout.to_revision
            )
    return errors


def steer(driver: Driver, verb: str, reason: str | None) -> list[str]:
    """``rollout pause|resume|abort``: one line per bundle saying what happened (and errors)."""
    now = driver.clock()
    env = driver.environment
    inventory = driver.observer.auditor().inventory()
    lines: list[str] = []
    for bundle in inventory.bundles:
        current = driver.store.load_rollout(env, bundle)
        if verb == "resume" and driver.store.lift_quarantine(env, bundle, driver.user, now):
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
            changed = engine.pause(current, driver.user, reason or "paused by hand", now)
        else:
            changed = engine.resume(current, now)
        driver.store.save_rollout(changed, now, [event])
        lines.append(f"{bundle}: {changed.phase}")
    return lines
