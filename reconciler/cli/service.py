"""``daemon`` and ``demo``: the long-running reconciler, and the incident on a local fleet."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .shell import duration, repo_of, state_of


@click.command()
@click.option(
    "--env",
    "envs",
    required=True,
    multiple=True,
    help="An environment (targets/<env>.yaml); repeat for several, or '*' for all of them.",
)
@click.option("--interval", default="30s", show_default=True, help="Time between steps.")
@click.option(
    "--listen",
    default="127.0.0.1:9464",
    show_default=True,
    help="Address of /metrics, /healthz, /readyz and /status.",
)
@click.option(
    "--branch",
    default=None,
    help="The tracked branch of the remote (origin). Default: the remote's default branch.",
)
@click.option(
    "--verify-signatures",
    is_flag=True,
    help="Apply only revisions whose commit signature verifies (default: .reconciler-signers).",
)
@click.option(
    "--state",
    "state",
    help="The state store: sqlite:///PATH or postgresql://... (default: $RECONCILER_STATE_URL, "
    "else .reconciler/state.db). Several daemons share one PostgreSQL store.",
)
@click.option(
    "--max-environments",
    type=click.IntRange(min=1),
    help="Lead at most this many environments; audit the others read-only.",
)
@click.option(
    "--public-url",
    help="Where people reach this daemon's on-call page (https://...): alerts link to it "
    "(sets $RECONCILER_PUBLIC_URL).",
)
@click.pass_context
def daemon(
    ctx: click.Context,
    envs: tuple[str, ...],
    interval: str,
    listen: str,
    branch: str | None,
    verify_signatures: bool,
    state: str | None,
    max_environments: int | None,
    public_url: str | None,
) -> None:
    """The long-running reconciler: fetch git, audit, advance the rollout, alert."""
    import os

    from ..clock import running
    from ..daemon.loop import Daemon
    from ..daemon.server import parse_listen
    from ..model.names import check_name

    seconds = duration(interval, "--interval")
    for env in envs:
        if env != "*":
            try:
                check_name(env, "environment")
            except ValueError as exc:
                raise click.BadParameter(str(exc), param_hint="--env") from None
    if public_url is not None:
        if not public_url.startswith(("http://", "https://")):
            hint = "--public-url"
            raise click.BadParameter("must start with http:// or https://", param_hint=hint)
        os.environ["RECONCILER_PUBLIC_URL"] = public_url  # the notifiers read their environ
    try:
        parse_listen(listen)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--listen") from None
    from ..state import check_state

    check_state(repo_of(ctx), state or state_of(ctx))  # a URL no retry can mend: exit 1 now
    runner = Daemon(
        repo_of(ctx),
        list(dict.fromkeys(envs)),
        interval=seconds,
        listen=listen,
        branch=branch,
        clock=running(),
        verify=verify_signatures,
        state=state or state_of(ctx),
        max_environments=max_environments,
    )
    sys.exit(runner.run())


@click.command()
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where to build the demo repo and fleet (default: a new temp folder).",
)
@click.option(
    "--serve",
    is_flag=True,
    help="Keep serving the fleet's HTTP targets until Ctrl-C, to explore it.",
)
@click.pass_context
def demo(ctx: click.Context, directory: Path | None, serve: bool) -> None:
    """Build a local fleet with a realistic stalled rollout and show what on-call would see."""
    from ..clock import now
    from ..demo import run_demo

    root = ctx.find_root().command

    def run(args: list[str]) -> int:
        """Run one real command in this process, as the user would type it."""
        try:
            root.main(args, standalone_mode=False)
        except SystemExit as exc:
            return int(exc.code or 0)
        return 0

    sys.exit(run_demo(directory, serve=serve, now=now(), run=run))
