"""``converge``, ``rollback`` and ``rollout status|pause|resume|abort`` (design §8, §10): the
library decides (:mod:`reconciler.rollout.commands`), these only print."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..model.rollout import ConditionType
from .shell import duration, echo, env_option, repo_of, state_of
from .trail import reason_option, record_reset, recorded, who_option

if TYPE_CHECKING:
    from ..rollout.driver import Driver
    from ..rollout.step import Step
    from ..state.switches import SwitchIntent
    from .trail import Entry


def driver_for(
    repo: Path, env: str, scope: str | None = None, verify: bool = False, user: str | None = None
) -> Driver:
    from ..clock import running
    from ..rollout.desired import signed_policy
    from ..rollout.driver import Driver
    from ..state import open_store

    signed = signed_policy(repo, env, verify)
    store = open_store(repo, state_of(click.get_current_context()))
    return Driver(repo, env, store, clock=running(), scope=scope, signed=signed, user=user)


def echo_step(step: Step) -> None:
    """What one step did: what was written (only that), alerts, and where the rollout is."""
    from ..model.rollout import Notify, Revert
    from ..report.rollout import headline, quarantine_line

    audit = step.audit
    policy = audit.inventory.rollout
    now = audit.generated_at.timestamp()
    for bundle in step.bundles.values():
        reverted = {t for a in bundle.actions if isinstance(a, Revert) for t, _ in a.targets}
        for target in bundle.written:
            verb = "revert" if target in reverted else "apply"
            echo(f"  {verb} {bundle.bundle} -> {target}")
        for target in bundle.came_along:
            echo(f"  {target} came along: its group switches whole")
        for group, outcome, seconds in bundle.switches:
            window = "" if seconds is None else f": torn window {seconds * 1000:.0f} ms"
            echo(f"  group {group} {outcome}{window}")
        for target, why in sorted(bundle.failed.items()):
            echo(f"  error: {target}: apply failed: {why}", err=True)
        for action in bundle.actions:
            if isinstance(action, Notify):
                echo(f"  alert {action.condition} {action.state}: {action.message}")
        for error in bundle.alert_errors:
            echo(f"  error: alert not delivered: {error}", err=True)
        if bundle.quarantined is not None:
            echo(quarantine_line(bundle.bundle, bundle.quarantined, now, audit.tags))
            echo(f"{bundle.bundle}: QUARANTINED — nothing written.")
        elif bundle.rollout is not None and bundle.rollout.targets:  # none: devices only
            echo(headline(bundle.rollout, policy, now, audit.tags))
            ready = bundle.rollout.conditions.get(ConditionType.READY)
            held = ("AnalysisFailed", "AwaitingEval", "AwaitingPromotion", "WaitingForWindow")
            if ready is not None and ready.reason in held:
                echo(f"  {ready.reason}: {ready.message}")


@click.command()
@env_option
@click.option("--dry-run", is_flag=True, help="Show what would be applied; write nothing.")
@click.option("--target", "only", help="Converge this target only (applies, waits, alerts).")
@click.option(
    "--timeout",
    help="Bound the whole command (e.g. 20m). Default: the progress deadline plus all bakes.",
)
@click.option(
    "--verify-signatures",
    is_flag=True,
    help="Apply only revisions whose commit signature verifies (default: .reconciler-signers).",
)
@reason_option
@who_option
@click.pass_context
def converge(
    ctx: click.Context,
    env: str,
    dry_run: bool,
    only: str | None,
    timeout: str | None,
    verify_signatures: bool,
    reason: str | None,
    who: str | None,
) -> None:
    """Run the rollout to the desired revision, wave by wave, until complete or blocked."""
    from ..rollout import commands

    limit = duration(timeout, "--timeout") if timeout is not None else None
    if dry_run:
        from ..rollout import fleets

        driver = driver_for(repo_of(ctx), env, scope=only, verify=verify_signatures)
        for line in fleets.planned(driver, only):
            echo(line)
        if fleets.is_fleet(driver, only):  # a devices target: its manifests, nothing else
            return
        waiting: dict[str, str] = {}
        for bundle, targets in commands.dry_run(driver, waiting).items():
            if targets is None:
                echo(f"{bundle}: quarantined; nothing would be written")
            elif bundle in waiting:
                echo(f"{bundle}: would wait — {waiting[bundle]}; would apply to nothing")
            else:
                echo(f"{bundle}: would apply to {', '.join(targets) or 'nothing'}")
        return
    with recorded(ctx, env, "converge", reason, who) as entry:
        if only:
            entry.details["target"] = only
        driver = driver_for(repo_of(ctx), env, only, verify_signatures, entry.who)
        _converge(driver, entry, limit, only)


def _fleets(driver: Driver, entry: Entry, revision: str | None, only: str | None) -> None:
    """Switch the devices targets' manifests (design §13); exit 2 when an artifact is wrong."""
    from ..rollout.artifacts import ArtifactMismatch
    from ..rollout.fleetgates import FleetPaused
    from ..rollout.fleets import FleetSwitchFailed, drive

    try:
        drive(driver, revision, only, revoke=revision is not None, say=echo)
    except (ArtifactMismatch, FleetSwitchFailed, FleetPaused) as exc:
        echo(f"converge: {exc}", err=True)
        entry.outcome = f"blocked: {exc}"
        sys.exit(2)


def _converge(driver: Driver, entry: Entry, limit: float | None, only: str | None) -> None:
    from ..rollout import commands, fleets
    from ..rollout.signed import Unverified
    from ..state.interface import Deposed, LeaseHeld

    if fleets.is_fleet(driver, only):  # a devices target: its manifests, nothing else
        _fleets(driver, entry, None, only)
        echo(f"converged: {only}'s manifests re-fetched with the desired digests")
        sys.exit(0)
    if limit is None:
        policy = driver.inventory().rollout
        limit = policy.progress_deadline + sum(w.bake for w in policy.waves)
    try:
        code, step = commands.converge(driver, limit, on_step=echo_step)
    except (LeaseHeld, Deposed, Unverified) as exc:  # a state of the world, not an error
        echo(f"converge: {exc}", err=True)
        entry.outcome = f"not run: {exc}"
        sys.exit(2)
    if code == 0 and not only:
        _fleets(driver, entry, None, None)
    entry.bundles = sorted(step.audit.desired)
    entry.digests = {b: r.digest for b, r in step.audit.desired.items()}
    entry.details["revision"] = step.audit.desired_revision
    for sha, reason in driver.unverified[:1]:
        echo(f"Unverified: {sha[:7]}: {reason}; nothing of it was written", err=True)
        code = 2
    scope = f"{only} re-fetched" if only else "every target re-fetched"
    if code == 0:
        echo(f"converged: {scope} with the desired content")
    elif not step.blocked:
        echo(f"not complete within {limit:.0f}s", err=True)
    if code != 0:
        entry.outcome = "blocked" if step.blocked else "timed out"
    sys.exit(code)


@click.command()
@env_option
@click.option("--to", "to", required=True, help="The revision to restore everywhere.")
@reason_option
@who_option
@click.pass_context
def rollback(ctx: click.Context, env: str, to: str, reason: str | None, who: str | None) -> None:
    """Restore REV on every target at once, verify by re-fetching, quarantine desired."""
    with recorded(ctx, env, "rollback", reason, who) as entry:
        _rollback(driver_for(repo_of(ctx), env, user=entry.who), entry, to)


def _rollback(driver: Driver, entry: Entry, to: str) -> None:
    from ..rollout import commands

    entry.details["to"] = to
    _fleets(driver, entry, to, None)  # manifests back, and each tier revokes what it served
    try:
        done = commands.rollback(driver, to)
    except commands.WindowClosed as exc:  # a state of the world (rollback: in_window)
        echo(f"rollback: {exc}; nothing was written", err=True)
        entry.outcome = f"not run: {exc}"
        sys.exit(2)
    entry.bundles = sorted(done.audit.desired)
    entry.digests = {b: r.digest for b, r in done.audit.desired.items()}
    entry.details["revision"] = done.audit.desired_revision
    after = done.audit
    counts = after.counts()
    verified = counts["in_sync"]
    echo(
        f"rolled back {len(after.targets)} targets to {to} in {done.elapsed:.2f}s: "
        f"{verified} verified by re-fetching"
        + ("" if done.code == 0 else f", {len(after.targets) - verified} NOT verified")
    )
    echo(f"  {len(done.switched)} targets switched back from staged copies (no upload)")
    for name, because in sorted(done.fallback.items()):
        echo(f"  {name}: fell back to a full write: {because}")
    for target in after.targets:
        if str(target.status) != "in_sync":
            why = [w for w in (target.error, done.unwritten.get(target.name)) if w]
            echo(f"  {target.name}: {target.status}" + "".join(f"; {w}" for w in why))
    for error in done.alert_errors:
        echo(f"  error: alert not delivered: {error}", err=True)
    echo(
        "the desired digest is quarantined: converge and the daemon will not apply it "
        "until the bundle changes or `reconciler rollout resume`"
    )
    sys.exit(done.code)


@click.group()
def rollout() -> None:
    """Inspect and steer the current rollout."""


@rollout.command()
@env_option
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.pass_context
def status(ctx: click.Context, env: str, fmt: str) -> None:
    """Revision from -> to, waves, coverage, conditions, pause and deadline (as of now)."""
    import json

    from ..report.rollout import quarantine_line, status_json, status_text

    repo = repo_of(ctx)
    driver = driver_for(repo, env)
    inventory = driver.inventory()
    now = driver.clock()
    policy = inventory.rollout
    held = {q.bundle: q for q in reversed(driver.store.quarantines(env))}
    found = driver.stored(inventory.bundles)
    if fmt == "json":
        out = {
            b: (status_json(r, policy, now, held.get(b)) if r else None) for b, r in found.items()
        }
        for b, data in out.items():
            if data is not None:
                data["switches"] = [_switch_json(s) for s in driver.store.switches(env, b, 10)]
        echo(json.dumps(out, indent=2))
        return
    tags = driver.run.repo.read_tags()
    for bundle, r in found.items():
        if r is not None:
            echo(status_text(r, policy, now, tags, held.get(bundle)))
            for switch in driver.store.switches(env, bundle, 3):
                echo(f"  {_switch_line(switch)}")
        elif bundle in held:
            echo(quarantine_line(bundle, held[bundle], now, tags))
        else:
            echo(f"{bundle}: no rollout yet (run `reconciler converge --env {env}`)")


def _switch_json(switch: SwitchIntent) -> dict[str, object]:
    return {
        "group": switch.group,
        "digest": switch.digest,
        "parts": sorted(switch.parts),
        "outcome": switch.outcome,
        "torn_window_seconds": switch.torn_seconds,
        "started_at": switch.started_at,
    }


def _switch_line(switch: SwitchIntent) -> str:
    """``group ap-south-1 switched (3 parts): torn window 12 ms``."""
    window = (
        "" if switch.torn_seconds is None else f": torn window {switch.torn_seconds * 1000:.0f} ms"
    )
    outcome = switch.outcome or "unfinished (re-issued by the next writer)"
    return f"group {switch.group} {outcome} ({len(switch.parts)} parts){window}"


def _steer(ctx: click.Context, env: str, verb: str, reason: str | None, who: str | None) -> None:
    from ..rollout import commands

    with recorded(ctx, env, f"rollout {verb}", reason, who) as entry:
        driver = driver_for(repo_of(ctx), env, user=entry.who)
        entry.bundles = list(driver.inventory().bundles)
        for line in commands.steer(driver, verb, reason):
            echo(line, err=line.startswith("  error"))


@rollout.command()
@env_option
@click.option(
    "--reason", default="paused by hand", show_default=True, help="Why (shown in status, alerts)."
)
@who_option
@click.pass_context
def pause(ctx: click.Context, env: str, reason: str, who: str | None) -> None:
    """Stop applying (the progress deadline keeps running)."""
    _steer(ctx, env, "pause", reason, who)


@rollout.command()
@env_option
@reason_option
@who_option
@click.pass_context
def resume(ctx: click.Context, env: str, reason: str | None, who: str | None) -> None:
    """Lift a pause, and a quarantine of the desired digest."""
    _steer(ctx, env, "resume", reason, who)


@rollout.command()
@env_option
@reason_option
@who_option
@click.pass_context
def abort(ctx: click.Context, env: str, reason: str | None, who: str | None) -> None:
    """Stop the rollout; nothing more is applied."""
    _steer(ctx, env, "abort", reason, who)


@click.group()
def state() -> None:
    """The state store (rollouts, quarantines, alerts, leases)."""


@state.command()
@click.option("--yes", is_flag=True, help="Really reset (without it, only say what is lost).")
@click.option(
    "--force",
    is_flag=True,
    help="Reset even while a writer holds a live lease (it carries over to the new store).",
)
@reason_option
@who_option
@click.pass_context
def reset(ctx: click.Context, yes: bool, force: bool, reason: str | None, who: str | None) -> None:
    """Set a damaged state store aside and start a new one; quarantines come back from git."""
    from ..rollout.reset import reset_state

    code, lines = reset_state(repo_of(ctx), state_of(ctx), yes=yes, force=force)
    for line in lines:
        echo(line, err=code != 0)
    if yes:  # without --yes nothing changed: nothing to record
        record_reset(ctx, code, reason, who)
    sys.exit(code)
