"""What every command shares: one fatal-exit path, exit codes, the repo, ``--fail-on``.

Only click is imported here; each command imports what it needs, so ``--help`` stays fast.
Every failure the user can act on is one line on stderr and exit code 1. Everything a command
prints goes through :func:`echo` (or the scrubbing rich console), which masks every known
secret (design §11).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from ..display import visible
from ..secrets import scrub

EXIT_OK, EXIT_ERROR, EXIT_FAIL = 0, 1, 2


def echo(message: object = None, *, err: bool = False, nl: bool = True) -> None:
    """``click.echo`` with every known secret masked (:func:`reconciler.secrets.scrub`) and
    every bidirectional or control character shown escaped (:func:`reconciler.display.visible`)."""
    click.echo(None if message is None else scrub(visible(str(message))), err=err, nl=nl)


def fatal(message: str) -> NoReturn:
    echo(f"error: {message}", err=True)
    sys.exit(EXIT_ERROR)


class Group(click.Group):
    """Turns the tool's own errors into one line and exit 1, never a traceback.

    Bad arguments exit 1 too (design §8), not click's 2: exit 2 means "the fleet fails the
    policy", and a typo must never read as that.
    """

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        try:
            return super().make_context(*args, **kwargs)
        except click.UsageError as exc:
            exc.exit_code = 1  # type: ignore[misc]  # click declares it a ClassVar
            raise

    def invoke(self, ctx: click.Context) -> Any:
        from ..errors import ReconcilerError

        try:
            return super().invoke(ctx)
        except ReconcilerError as exc:
            fatal(str(exc))
        except KeyboardInterrupt:
            echo("interrupted", err=True)
            sys.exit(130)
        except click.UsageError as exc:
            exc.exit_code = 1  # type: ignore[misc]  # click declares it a ClassVar
            raise
        except (click.exceptions.Exit, click.ClickException, SystemExit):
            raise
        except Exception as exc:
            if os.environ.get("RECONCILER_DEBUG"):
                raise
            fatal(f"internal error: {type(exc).__name__}: {exc} (RECONCILER_DEBUG=1 shows more)")


def repo_of(ctx: click.Context) -> Path:
    """The ``--repo`` folder (it must exist)."""
    repo: Path = ctx.find_root().obj
    if not repo.is_dir():
        fatal(f"--repo {repo}: no such directory")
    return repo


def state_of(ctx: click.Context) -> str | None:
    """The global ``--state URL`` (None: $RECONCILER_STATE_URL, else the embedded file)."""
    return ctx.find_root().meta.get("reconciler.state")


def fail_on(text: str) -> frozenset[str]:
    from ..audit.results import parse_fail_on

    try:
        return parse_fail_on(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--fail-on") from None


def duration(text: str, option: str) -> float:
    from ..model.duration import parse_duration

    try:
        return parse_duration(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=option) from None


def progress() -> Any:
    """A progress bar on stderr for large fleets when a person is watching."""
    if not sys.stderr.isatty():
        return None

    def start(total: int) -> Any:
        if total < 200:
            return None
        from rich.progress import Progress

        from ..report.console import console

        bar = Progress(transient=True, console=console(stderr=True))
        task = bar.add_task("fetching targets", total=total)
        bar.start()
        state = {"left": total}

        def done() -> None:
            bar.advance(task)
            state["left"] -= 1
            if state["left"] == 0:
                bar.stop()

        return done

    return start


def env_option(function: Any) -> Any:
    return click.option(
        "--env", "env", required=True, help="The environment (targets/<env>.yaml)."
    )(function)
