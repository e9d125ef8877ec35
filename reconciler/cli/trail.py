"""The trail in the CLI (design §15): ``--as`` and ``--reason`` on every mutating command, the one
event each of them records, and ``reconciler events``. The library decides
(:mod:`reconciler.rollout.trail`, :mod:`reconciler.report.cdevents`); this only wires and prints."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import click

from .shell import duration, echo, env_option, repo_of, state_of


def who_option(function: Any) -> Any:
    return click.option(
        "--as",
        "who",
        help="Who runs this, for the trail (default: $RECONCILER_ACTOR, else git's user.email, "
        "else the OS user).",
    )(function)


def reason_option(function: Any) -> Any:
    return click.option("--reason", help="Why (recorded in the trail; shown on the page).")(
        function
    )


@dataclass
class Entry:
    """What a command fills in for its trail event while it runs."""

    who: str
    bundles: list[str] = field(default_factory=list)
    digests: dict[str, str] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    outcome: str | None = None  #: None: said by the exit code


@contextmanager
def recorded(
    ctx: click.Context, env: str, command: str, reason: str | None, who: str | None
) -> Iterator[Entry]:
    """Check ``require_reason`` (before anything is written), then record the command's event
    when it ends, however it ends (an exit code, or an error)."""
    from ..clock import now
    from ..config.inventory import load_inventory
    from ..rollout import trail

    repo = repo_of(ctx)
    inventory = load_inventory(repo, env)
    trail.require_reason(command, env, inventory.require_reason, reason)
    entry = Entry(trail.actor(who, os.environ, repo))
    code = 1
    try:
        yield entry
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        raise
    finally:
        outcome = entry.outcome or trail.OUTCOMES.get(code, f"exit {code}")
        # A command that failed has said why; a store too broken for the trail is that reason.
        _write(ctx, [env], command, entry, outcome, reason, now().timestamp(), quiet=code != 0)


def _write(
    ctx: click.Context,
    environments: list[str],
    command: str,
    entry: Entry,
    outcome: str,
    reason: str | None,
    at: float,
    *,
    quiet: bool = False,
) -> None:
    from ..rollout import trail
    from ..state import open_store

    try:
        store = open_store(repo_of(ctx), state_of(ctx))
    except Exception as exc:
        if not quiet:
            echo(f"error: the trail could not be written: {exc}", err=True)
        return
    try:
        for env in environments:
            trail.record(
                store,
                env,
                at,
                who=entry.who,
                command=command,
                outcome=outcome,
                reason=reason,
                bundles=entry.bundles,
                digests=entry.digests,
                details=entry.details,
            )
    except Exception as exc:
        if not quiet:
            echo(f"error: the trail could not be written: {exc}", err=True)
    finally:
        store.close()


def record_reset(ctx: click.Context, code: int, reason: str | None, who: str | None) -> None:
    """``state reset`` concerns every environment: its event goes into each one's trail."""
    from ..clock import now
    from ..config.inventory import environments
    from ..rollout import trail

    repo = repo_of(ctx)
    entry = Entry(trail.actor(who, os.environ, repo))
    outcome = trail.OUTCOMES.get(code, f"exit {code}")
    at = now().timestamp()
    envs = list(environments(repo))
    _write(ctx, envs, "state reset", entry, outcome, reason, at, quiet=code != 0)


@click.command()
@env_option
@click.option("--since", default="24h", show_default=True, help="How far back (e.g. 7d, 90m).")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "cdevents"]), default="text")
@click.pass_context
def events(ctx: click.Context, env: str, since: str, fmt: str) -> None:
    """The trail: who ran which mutating command, when, why, and how it ended."""
    import json

    from ..clock import now
    from ..config.inventory import load_inventory
    from ..report.cdevents import cloudevents, trail_json, trail_text
    from ..rollout import trail
    from ..state import open_store

    window = duration(since, "--since")
    repo = repo_of(ctx)
    load_inventory(repo, env)  # a typo in --env is an error, not an empty trail
    at = now().timestamp()
    store = open_store(repo, state_of(ctx))
    try:
        found = trail.read(store, env, at - window)
    finally:
        store.close()
    if fmt == "json":
        echo(json.dumps(trail_json(env, at - window, found), indent=2))
    elif fmt == "cdevents":
        echo(json.dumps(cloudevents(env, found), indent=2))
    else:
        for line in trail_text(found) or [f"no commands recorded in {env} since {since} ago"]:
            echo(line)
