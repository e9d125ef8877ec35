"""``daemon`` and ``demo``: the long-running reconciler, and the incident on a local fleet."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .shell import duration, repo_of


@click.command()
@click.option("--env", "env", required=True, help="The environment (targets/<env>.yaml).")
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
@click.pass_context
def daemon(
    ctx: click.Context,
    env: str,
    interval: str,
    listen: str,
    branch: str | None,
    verify_signatures: bool,
) -> None:
    """The long-running reconciler: fetch git, audit, advance the rollout, alert."""
    from ..clock import running
    from ..daemon.loop import Daemon
    from ..daemon.server import parse_listen

    seconds = duration(interval, "--interval")
    try:
        parse_listen(listen)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--listen") from None
    runner = Daemon(
        repo_of(ctx),
        env,
        interval=seconds,
        listen=listen,
        branch=branch,
        clock=running(),
        verify=verify_signatures,
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
