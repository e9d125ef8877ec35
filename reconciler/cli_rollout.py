"""``converge``, ``rollback`` and ``rollout status|pause|resume|abort`` (design §8, §10)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from .rollout.driver import Driver, Step


def _driver(repo: Path, env: str, revision: str | None = None) -> Driver:
    from .cli import clock
    from .rollout.driver import Driver
    from .state import open_store

    return Driver(repo, env, open_store(repo), revision=revision, clock=clock())


def _echo_step(step: Step, tags: dict[str, str], now: float) -> None:
    from .rollout.model import Apply, Notify, Revert
    from .rollout.view import headline

    policy = step.audit.inventory.rollout
    for bundle in step.bundles.values():
        for action in bundle.actions:
            if isinstance(action, Apply):
                click.echo(f"  apply {bundle.bundle} -> {action.target}")
            elif isinstance(action, Notify):
                click.echo(f"  alert {action.condition} {action.state}: {action.message}")
            elif isinstance(action, Revert):
                click.echo(f"  revert {', '.join(action.targets)} to the previous revision")
        for error in bundle.errors:
            click.echo(f"  error: {error}", err=True)
        if bundle.quarantined is not None:
            q = bundle.quarantined
            click.echo(
                f"{bundle.bundle}: QUARANTINED — desired content was rolled back from "
                f"({q.revision[:12]}, by {q.by}); nothing written. A commit that changes the "
                "bundle, or `reconciler rollout resume`, lifts it."
            )
        elif bundle.rollout is not None:
            click.echo(headline(bundle.rollout, policy.progress_deadline, now, tags))


def register(main: click.Group, repo_of: Any, tags_of: Any) -> None:
    """Add the rollout commands to the ``reconciler`` group."""

    @main.command()
    @click.option("--env", "env", required=True)
    @click.option("--dry-run", is_flag=True, help="Show what would be applied; write nothing.")
    @click.option("--target", "only", help="Apply to this target only.")
    @click.option(
        "--timeout",
        help="Bound the whole command (e.g. 20m). Default: the progress deadline plus all bakes.",
    )
    @click.pass_context
    def converge(
        ctx: click.Context, env: str, dry_run: bool, only: str | None, timeout: str | None
    ) -> None:
        """Run the rollout to the desired revision, wave by wave, until complete or blocked."""
        from .model.duration import parse_duration

        repo = repo_of(ctx)
        driver = _driver(repo, env)
        tags = tags_of(repo)
        if dry_run:
            _dry_run(driver, only)
            return
        if only is not None:
            driver.only = only
        limit = None
        if timeout is not None:
            try:
                limit = parse_duration(timeout)
            except ValueError as exc:
                raise click.BadParameter(str(exc), param_hint="--timeout") from None
        first = driver.audit()
        policy = first.inventory.rollout
        if limit is None:
            limit = policy.progress_deadline + sum(w.bake for w in policy.waves)
        code, step = driver.converge(limit, on_step=lambda s: _echo_step(s, tags, driver.clock()))
        if code == 0:
            click.echo("converged: every target re-fetched with the desired content")
        elif not step.blocked:
            click.echo(f"not complete within {limit:.0f}s", err=True)
        sys.exit(code)

    @main.command()
    @click.option("--env", "env", required=True)
    @click.option("--to", "to", required=True, help="The revision to restore everywhere.")
    @click.pass_context
    def rollback(ctx: click.Context, env: str, to: str) -> None:
        """Restore REV on every target at once, verify by re-fetching, quarantine desired."""
        repo = repo_of(ctx)
        driver = _driver(repo, env)
        code, after, elapsed, unwritten, alerts = driver.rollback(to)
        counts = after.counts()
        click.echo(
            f"rolled back {len(after.targets)} targets to {to} in {elapsed:.2f}s: "
            f"{counts['in_sync']} verified by re-fetching"
            + ("" if code == 0 else f", {len(after.targets) - counts['in_sync']} NOT verified")
        )
        for target in after.targets:
            if str(target.status) != "in_sync":
                why = [w for w in (target.error, unwritten.get(target.name)) if w]
                click.echo(f"  {target.name}: {target.status}" + "".join(f"; {w}" for w in why))
        for error in alerts:
            click.echo(f"  {error}", err=True)
        click.echo(
            "the desired digest is quarantined: converge and the daemon will not apply it "
            "until the bundle changes or `reconciler rollout resume`"
        )
        sys.exit(code)

    @main.command()
    @click.option("--env", "env", required=True)
    @click.option("--interval", default="30s", show_default=True, help="Time between steps.")
    @click.option(
        "--listen",
        default="127.0.0.1:9464",
        show_default=True,
        help="Address of /metrics, /healthz, /readyz and /status.",
    )
    @click.option(
        "--branch",
        default="main",
        show_default=True,
        help="The tracked branch of the remote (origin).",
    )
    @click.pass_context
    def daemon(ctx: click.Context, env: str, interval: str, listen: str, branch: str) -> None:
        """The long-running reconciler: fetch git, audit, advance the rollout, alert."""
        from .daemon.loop import Daemon
        from .daemon.server import parse_listen
        from .model.duration import parse_duration

        try:
            seconds = parse_duration(interval)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--interval") from None
        try:
            parse_listen(listen)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--listen") from None
        from .cli import clock

        runner = Daemon(
            repo_of(ctx), env, interval=seconds, listen=listen, branch=branch, clock=clock()
        )
        sys.exit(runner.run())

    @main.group()
    def rollout() -> None:
        """Inspect and steer the current rollout."""

    @rollout.command()
    @click.option("--env", "env", required=True)
    @click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
    @click.pass_context
    def status(ctx: click.Context, env: str, fmt: str) -> None:
        """Revision from -> to, waves, coverage, conditions, pause and deadline."""
        import json

        from .config.inventory import load_inventory
        from .rollout.view import status_json, status_text

        repo = repo_of(ctx)
        driver = _driver(repo, env)
        inventory = load_inventory(repo, env)
        now = driver.clock()
        found = {b: driver.store.load_rollout(env, b) for b in inventory.bundles}
        deadline = inventory.rollout.progress_deadline
        if fmt == "json":
            click.echo(
                json.dumps(
                    {b: (status_json(r, deadline, now) if r else None) for b, r in found.items()},
                    indent=2,
                )
            )
            return
        tags = tags_of(repo)
        for bundle, r in found.items():
            if r is None:
                click.echo(f"{bundle}: no rollout yet (run `reconciler converge --env {env}`)")
            else:
                click.echo(status_text(r, deadline, now, tags))

    def _steer(ctx: click.Context, env: str, verb: str, reason: str | None) -> None:
        from .config.inventory import load_inventory
        from .rollout import engine

        repo = repo_of(ctx)
        driver = _driver(repo, env)
        now = driver.clock()
        inventory = load_inventory(repo, env)
        for bundle in inventory.bundles:
            current = driver.store.load_rollout(env, bundle)
            if verb == "resume":
                lifted = driver.store.lift_quarantine(env, bundle, driver.user, now)
                if lifted:
                    click.echo(f"{bundle}: quarantine lifted by {driver.user}")
            if current is None:
                click.echo(f"{bundle}: no rollout to {verb}")
                continue
            event = (verb, {"bundle": bundle, "by": driver.user, "reason": reason})
            if verb == "abort":
                for error in driver.abort(inventory, current, driver.user, now, event):
                    click.echo(f"  {error}", err=True)
                click.echo(f"{bundle}: aborted")
                continue
            if verb == "pause":
                changed = engine.pause(current, driver.user, reason or "paused by hand", now)
            else:
                changed = engine.resume(current, now)
            driver.store.save_rollout(changed, now, [event])
            click.echo(f"{bundle}: {changed.phase}")

    @rollout.command()
    @click.option("--env", "env", required=True)
    @click.option(
        "--reason",
        default="paused by hand",
        show_default=True,
        help="Why (shown in status and alerts).",
    )
    @click.pass_context
    def pause(ctx: click.Context, env: str, reason: str) -> None:
        """Stop applying (the progress deadline keeps running)."""
        _steer(ctx, env, "pause", reason)

    @rollout.command()
    @click.option("--env", "env", required=True)
    @click.pass_context
    def resume(ctx: click.Context, env: str) -> None:
        """Lift a pause, and a quarantine of the desired digest."""
        _steer(ctx, env, "resume", None)

    @rollout.command()
    @click.option("--env", "env", required=True)
    @click.pass_context
    def abort(ctx: click.Context, env: str) -> None:
        """Stop the rollout; nothing more is applied."""
        _steer(ctx, env, "abort", None)


def _dry_run(driver: Driver, only: str | None) -> None:
    from .rollout import engine
    from .rollout.model import Apply

    audit = driver.audit()
    now = driver.clock()
    for bundle in audit.inventory.bundles:
        held = driver.store.quarantined(driver.environment, bundle, audit.desired[bundle].digest)
        if held:
            click.echo(f"{bundle}: quarantined; nothing would be written")
            continue
        rollout = driver.plan(audit, bundle, now)
        _, actions = engine.advance(
            rollout, audit.inventory.rollout, driver.observations(audit, bundle), now
        )
        applies = [
            a.target for a in actions if isinstance(a, Apply) and (only is None or a.target == only)
        ]
        click.echo(f"{bundle}: would apply to {', '.join(applies) if applies else 'nothing'}")
