"""The ``reconciler`` command: a thin shell over the library (design §8, contract).

Only click is imported at start-up; each command imports what it needs, so ``--help`` stays
fast. Every failure the user can act on is one line on stderr and exit code 1.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

if TYPE_CHECKING:
    from .results import Audit

EXIT_OK, EXIT_ERROR, EXIT_FAIL = 0, 1, 2
DEFAULT_FAIL_ON = "drifted,invalid,unreachable,missing,stalled,breaking"


def _fatal(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(EXIT_ERROR)


def _now() -> dt.datetime:
    """The clock; ``RECONCILER_NOW`` (ISO 8601 or Unix seconds) pins it for replays and tests."""
    pinned = os.environ.get("RECONCILER_NOW")
    if not pinned:
        return dt.datetime.now(dt.UTC)
    try:
        return dt.datetime.fromtimestamp(float(pinned), dt.UTC)
    except ValueError:
        pass
    try:
        moment = dt.datetime.fromisoformat(pinned)
    except ValueError:
        _fatal(f"RECONCILER_NOW={pinned!r} is neither ISO 8601 nor Unix seconds")
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def clock() -> Any:
    """A clock for commands that run a while: real time, or ``RECONCILER_NOW`` moving forward."""
    import time

    if not os.environ.get("RECONCILER_NOW"):
        return time.time
    pinned, started = _now().timestamp(), time.monotonic()
    return lambda: pinned + (time.monotonic() - started)


class _Group(click.Group):
    """Turns the tool's own errors into one line and exit 1, never a traceback.

    Bad arguments exit 1 too (design §8), not click's 2: exit 2 means "the fleet fails the
    policy", and a typo must never read as that.
    """

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        try:
            return super().make_context(*args, **kwargs)
        except click.UsageError as exc:
            exc.exit_code = 1
            raise

    def invoke(self, ctx: click.Context) -> Any:
        from .errors import ReconcilerError

        try:
            return super().invoke(ctx)
        except ReconcilerError as exc:
            _fatal(str(exc))
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)
        except click.UsageError as exc:
            exc.exit_code = 1
            raise
        except (click.exceptions.Exit, click.ClickException, SystemExit):
            raise
        except Exception as exc:
            if os.environ.get("RECONCILER_DEBUG"):
                raise
            _fatal(f"internal error: {type(exc).__name__}: {exc} (RECONCILER_DEBUG=1 shows more)")


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--repo",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="The config repo (bundles/ and targets/).",
)
@click.version_option(package_name="agent-reconciler")
@click.pass_context
def main(ctx: click.Context, repo: Path) -> None:
    """GitOps reconciler and drift auditor for AI agents.

    One git repo is the source of truth for an agent's whole config; the reconciler reads what
    every region, POP, prompt registry and flag platform runs, and says what differs and since when.
    """
    ctx.obj = repo


def _repo(ctx: click.Context) -> Path:
    repo: Path = ctx.obj
    if not repo.is_dir():
        _fatal(f"--repo {repo}: no such directory")
    return repo


def _fail_on(text: str) -> frozenset[str]:
    from .results import parse_fail_on

    try:
        return parse_fail_on(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--fail-on") from None


def _audit(repo: Path, env: str, revision: str | None, only: set[str] | None = None) -> Audit:
    from .audit import Auditor

    auditor = Auditor(repo, env, revision=revision, only=only)
    result = auditor.run(now=_now(), progress=_progress())
    _defer_to_recorded_rollouts(repo, result)
    return result


def _defer_to_recorded_rollouts(repo: Path, result: Audit) -> None:
    """Where converge or the daemon recorded the rollout, its Stalled condition is the
    authority on stalled (design §6); without a state store, git timestamps decide."""
    if not (repo / ".reconciler" / "state.db").exists():
        return  # never create state from a read-only command (a CI checkout)
    from .rollout.authority import defer_to_rollouts
    from .state import open_store

    store = open_store(repo)
    try:
        rollouts = {b: store.load_rollout(result.environment, b) for b in result.inventory.bundles}
    finally:
        store.close()
    defer_to_rollouts(result, rollouts)


def _progress() -> Any:
    """A progress bar on stderr for large fleets when a person is watching."""
    if not sys.stderr.isatty():
        return None

    def start(total: int) -> Any:
        if total < 200:
            return None
        from rich.progress import Progress

        bar = Progress(transient=True, console=_console(stderr=True))
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


def _console(stderr: bool = False) -> Any:
    from rich.console import Console

    console = Console(stderr=stderr, highlight=False, soft_wrap=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = 160  # a pipe or a CI log: do not fold tables at 80 columns
    return console


def _tags(repo: Path) -> dict[str, str]:
    from .gitrepo import GitRepo

    git = GitRepo(repo)
    try:
        return git.tags
    finally:
        git.close()


@main.command()
@click.pass_context
def validate(ctx: click.Context) -> None:
    """Lint every bundle and target file of the working tree; exit 1 with file:line errors."""
    from .validate import validate_repo

    errors, warnings = validate_repo(_repo(ctx))
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)
    for error in errors:
        click.echo(str(error), err=True)
    if errors:
        click.echo(f"{len(errors)} error(s)", err=True)
        sys.exit(EXIT_ERROR)
    click.echo("ok: every bundle and target file is valid")


@main.command()
@click.argument("bundle")
@click.option("--revision", help="A git revision (default: HEAD).")
@click.option("--target", help="Render as this target sees it (applies its overlay).")
@click.pass_context
def render(ctx: click.Context, bundle: str, revision: str | None, target: str | None) -> None:
    """Print the rendered bundle JSON (design §7)."""
    from .gitrepo import GitFiles, GitRepo
    from .render import render as render_bundle

    git = GitRepo(_repo(ctx))
    try:
        sha = git.commit(revision or "HEAD").hexsha
        done = render_bundle(GitFiles(git, sha), bundle, sha, target)
    finally:
        git.close()
    click.echo(done.to_bytes().decode("utf-8"), nl=False)


@main.command()
@click.option("--env", "env", required=True, help="The environment (targets/<env>.yaml).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "markdown", "github"]),
    default="text",
    show_default=True,
)
@click.option(
    "--fail-on",
    default=DEFAULT_FAIL_ON,
    show_default=True,
    help="Comma-separated statuses/severities that exit 2 ('none' for never).",
)
@click.option("--revision", help="Desired revision (default: HEAD).")
@click.pass_context
def audit(ctx: click.Context, env: str, fmt: str, fail_on: str, revision: str | None) -> None:
    """Fetch every target, classify, report. Exit 0 ok, 2 policy failure, 1 error."""
    policy = _fail_on(fail_on)
    repo = _repo(ctx)
    result = _audit(repo, env, revision)
    failures = result.failures(policy)
    click.echo(_format(result, fmt, failures, repo))
    sys.exit(EXIT_FAIL if failures else EXIT_OK)


def _format(result: Audit, fmt: str, failures: list[str], repo: Path) -> str:
    if fmt == "json":
        import orjson

        return orjson.dumps(result.to_json(), option=orjson.OPT_INDENT_2).decode("utf-8")
    tags = _tags(repo)
    if fmt == "markdown":
        from .report.markdown import render_markdown

        return render_markdown(result, tags, failures)
    if fmt == "github":
        from .gitrepo import GitFiles, GitRepo
        from .locate import Locator
        from .report.github import render_github

        git = GitRepo(repo)
        try:
            return render_github(
                result, tags, failures, Locator(GitFiles(git, result.desired_revision))
            )
        finally:
            git.close()
    from .report.text import render_text

    return render_text(result, tags, failures)


@main.command()
@click.option("--env", "env", required=True, help="The environment (targets/<env>.yaml).")
@click.option("--base", help="Offline: compare each target's render at REV (e.g. the merge base).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "markdown", "github"]),
    default="text",
    show_default=True,
)
@click.option(
    "--fail-on",
    default="breaking",
    show_default=True,
    help="Comma-separated statuses/severities that exit 2 ('none' for never).",
)
@click.option("--revision", help="Desired revision (default: HEAD).")
@click.pass_context
def plan(
    ctx: click.Context, env: str, base: str | None, fmt: str, fail_on: str, revision: str | None
) -> None:
    """What converging to the desired revision would change, per target (a PR preview)."""
    from .plan import PLAN_SCHEMA, plan_offline

    policy = _fail_on(fail_on)
    repo = _repo(ctx)
    if base is not None:
        result = plan_offline(repo, env, base, _now(), revision)
    else:
        result = _audit(repo, env, revision)
        result.schema = PLAN_SCHEMA
    failures = result.failures(policy)
    click.echo(_format(result, fmt, failures, repo))
    sys.exit(EXIT_FAIL if failures else EXIT_OK)


@main.command()
@click.option("--env", "env", required=True, help="The environment (targets/<env>.yaml).")
@click.option("--watch", is_flag=True, help="Refresh until interrupted.")
@click.option("--interval", default=10.0, show_default=True, help="Seconds between refreshes.")
@click.option("--fail-on", default=DEFAULT_FAIL_ON, show_default=True)
@click.option("--revision", help="Desired revision (default: HEAD).")
@click.pass_context
def skew(
    ctx: click.Context, env: str, watch: bool, interval: float, fail_on: str, revision: str | None
) -> None:
    """What runs where, right now: targets x revision, behind, skew age, worst change."""
    from .report.skew import skew_view

    policy = _fail_on(fail_on)
    repo = _repo(ctx)
    console = _console()
    if not watch:
        result = _audit(repo, env, revision)
        tags = _tags(repo)
        console.print(skew_view(result, tags, _rollout_lines(repo, result, tags)))
        sys.exit(EXIT_FAIL if result.failures(policy) else EXIT_OK)
    import time

    from rich.live import Live

    with Live(console=console, auto_refresh=False) as live:
        while True:
            result = _audit(repo, env, revision)
            tags = _tags(repo)
            live.update(skew_view(result, tags, _rollout_lines(repo, result, tags)), refresh=True)
            time.sleep(interval)


def _rollout_lines(repo: Path, result: Audit, tags: dict[str, str]) -> list[str]:
    """The rollout of each bundle, as the state store (converge, the daemon) last left it."""
    if not (repo / ".reconciler" / "state.db").exists():
        return []
    from .rollout.view import headline
    from .state import open_store

    store = open_store(repo)
    try:
        lines = []
        for bundle in result.inventory.bundles:
            rollout = store.load_rollout(result.environment, bundle)
            if rollout is not None:
                deadline = result.inventory.rollout.progress_deadline
                lines.append(headline(rollout, deadline, result.generated_at.timestamp(), tags))
        return lines
    finally:
        store.close()


@main.command()
@click.option("--env", "env", required=True, help="The environment (targets/<env>.yaml).")
@click.argument("target")
@click.option("--fail-on", default=DEFAULT_FAIL_ON, show_default=True)
@click.option("--revision", help="Desired revision (default: HEAD).")
@click.pass_context
def diff(ctx: click.Context, env: str, target: str, fail_on: str, revision: str | None) -> None:
    """The semantic diff of one target against desired, change by change."""
    from .report.diffview import diff_view

    policy = _fail_on(fail_on)
    repo = _repo(ctx)
    result = _audit(repo, env, revision, only={target})
    _console().print(diff_view(result, _tags(repo)))
    sys.exit(EXIT_FAIL if result.failures(policy) else EXIT_OK)


@main.command()
@click.option("--env", "env", required=True, help="The environment (targets/<env>.yaml).")
@click.option(
    "--eval",
    "snapshot",
    required=True,
    help="The rendered bundle the eval ran with: a file or an http(s) URL.",
)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.pass_context
def parity(ctx: click.Context, env: str, snapshot: str, fmt: str) -> None:
    """Is the agent under test the agent in production? Exit 0 same, 2 any difference."""
    from .parity import check_parity, render_parity

    bundle, results = check_parity(_repo(ctx), env, snapshot, dict(os.environ))
    click.echo(render_parity(env, bundle, snapshot, results, fmt))
    sys.exit(EXIT_FAIL if any(not r.same for r in results) else EXIT_OK)


@main.command()
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
def demo(directory: Path | None, serve: bool) -> None:
    """Build a local fleet with a realistic stalled rollout and show what on-call would see."""
    from .demo import run_demo

    sys.exit(run_demo(directory, serve=serve, now=_now()))


def _register() -> None:
    from .cli_rollout import register

    register(main, _repo, _tags)


_register()

if __name__ == "__main__":  # pragma: no cover
    main()
