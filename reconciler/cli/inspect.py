"""Commands that read and report, never write a target: validate, render, audit, plan, skew,
diff, parity."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..model.failon import DEFAULT_FAIL_ON
from ..report import FORMATS
from .shell import (
    EXIT_ERROR,
    EXIT_FAIL,
    EXIT_OK,
    duration,
    echo,
    env_option,
    fail_on,
    progress,
    repo_of,
    state_of,
)

if TYPE_CHECKING:
    from ..audit.results import Audit, Finding

FAIL_ON = ",".join(DEFAULT_FAIL_ON)


def judged(
    repo: Path,
    env: str,
    revision: str | None,
    only: set[str] | None = None,
    deadline: float | None = None,
) -> Audit:
    """The audit of ``env``, judged as of now with the recorded state (when there is one)."""
    from ..clock import now
    from ..rollout.recorded import judged_audit

    return judged_audit(
        repo,
        env,
        state=state_of(click.get_current_context()),
        now=now(),
        revision=revision,
        only=only,
        progress=progress(),
        deadline=deadline,
    )


@click.command()
@click.pass_context
def validate(ctx: click.Context) -> None:
    """Lint every bundle and target file of the working tree; exit 1 with file:line errors."""
    from ..audit.validate import validate_repo

    errors, warnings = validate_repo(repo_of(ctx))
    for warning in warnings:
        echo(f"warning: {warning}", err=True)
    for error in errors:
        echo(str(error), err=True)
    if errors:
        echo(f"{len(errors)} error(s)", err=True)
        sys.exit(EXIT_ERROR)
    echo("ok: every bundle and target file is valid")


@click.command()
@click.argument("bundle")
@click.option("--revision", help="A git revision (default: HEAD).")
@click.option("--target", help="Render as this target sees it (applies its overlay).")
@click.option("--tier", help="A device tier's render: only its model variant (design §13).")
@click.pass_context
def render(
    ctx: click.Context, bundle: str, revision: str | None, target: str | None, tier: str | None
) -> None:
    """Print the rendered bundle JSON (design §7), or a device tier's render (§13)."""
    from ..bundle.gitrepo import GitFiles, repo_at
    from ..bundle.render import render as render_bundle
    from ..bundle.tiers import tier_render

    git = repo_at(repo_of(ctx))
    sha = git.commit(revision or "HEAD").hexsha
    done = render_bundle(GitFiles(git, sha), bundle, sha, target)
    if tier is not None:
        done = tier_render(done, tier)
    echo(done.to_bytes().decode("utf-8"), nl=False)


@click.command()
@env_option
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
@click.option(
    "--fail-on",
    "policy",
    default=FAIL_ON,
    show_default=True,
    help="Comma-separated statuses/severities/findings that exit 2 ('none' for never).",
)
@click.option("--revision", help="Desired revision (default: HEAD).")
@click.option(
    "--timeout",
    default="5m",
    show_default=True,
    help="The whole audit's deadline: targets not answered by then are unreachable.",
)
@click.pass_context
def audit(
    ctx: click.Context, env: str, fmt: str, policy: str, revision: str | None, timeout: str
) -> None:
    """Fetch every target, classify, report. Exit 0 ok, 2 policy failure, 1 error."""
    from ..collector import gc_paused
    from ..report import format_audit

    words = fail_on(policy)
    limit = duration(timeout, "--timeout")
    repo = repo_of(ctx)
    result = judged(repo, env, revision, deadline=limit)
    failures = result.failures(words)
    with gc_paused():  # a document per target, none of them cyclic: no collector passes
        text = format_audit(result, fmt, failures, repo)
    echo(text)
    sys.exit(EXIT_FAIL if failures else EXIT_OK)


@click.command()
@env_option
@click.option("--base", help="Offline: compare each target's render at REV (e.g. the merge base).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
@click.option(
    "--fail-on",
    "policy",
    default="breaking",
    show_default=True,
    help="Comma-separated statuses/severities/findings that exit 2 ('none' for never).",
)
@click.option("--revision", help="Desired revision (default: HEAD).")
@click.pass_context
def plan(
    ctx: click.Context, env: str, base: str | None, fmt: str, policy: str, revision: str | None
) -> None:
    """What converging to the desired revision would change, per target (a PR preview)."""
    from ..audit.plan import PLAN_SCHEMA, plan_offline
    from ..clock import now
    from ..report import format_audit

    words = fail_on(policy)
    repo = repo_of(ctx)
    if base is not None:
        result = plan_offline(repo, env, base, now(), revision)
    else:
        result = judged(repo, env, revision)
        result.schema = PLAN_SCHEMA
    result.findings += _eval_findings(repo, result)
    failures = result.failures(words)
    echo(format_audit(result, fmt, failures, repo))
    sys.exit(EXIT_FAIL if failures else EXIT_OK)


def _eval_findings(repo: Path, result: Audit) -> list[Finding]:
    """Whether the new digest of a model, prompt or tool change was evaluated (read-only)."""
    from ..rollout import waits
    from ..rollout.evals import plan_findings
    from ..state import open_existing

    store = open_existing(repo, state_of(click.get_current_context()))
    try:
        now = result.generated_at.timestamp()
        return plan_findings(result, store) + waits.plan_findings(repo, result, store, now)
    finally:
        if store is not None:
            store.close()


@click.command()
@env_option
@click.option("--watch", is_flag=True, help="Refresh until interrupted.")
@click.option("--interval", default=10.0, show_default=True, help="Seconds between refreshes.")
@click.option("--fail-on", "policy", default=FAIL_ON, show_default=True)
@click.option("--revision", help="Desired revision (default: HEAD).")
@click.pass_context
def skew(
    ctx: click.Context, env: str, watch: bool, interval: float, policy: str, revision: str | None
) -> None:
    """What runs where, right now: targets x revision, behind, skew age, worst change."""
    from ..report.console import console
    from ..report.rollout import verdict_lines
    from ..report.skew import skew_view

    words = fail_on(policy)
    repo = repo_of(ctx)
    out = console()

    def view() -> tuple[object, bool]:
        result = judged(repo, env, revision)
        stamp = result.generated_at.timestamp()
        return skew_view(result, result.tags, verdict_lines(result, stamp)), bool(
            result.failures(words)
        )

    if not watch:
        shown, failed = view()
        out.print(shown)
        sys.exit(EXIT_FAIL if failed else EXIT_OK)
    import time

    from rich.live import Live

    with Live(console=out, auto_refresh=False) as live:
        while True:
            live.update(view()[0], refresh=True)  # type: ignore[arg-type]
            time.sleep(interval)


@click.command()
@env_option
@click.argument("target")
@click.option("--fail-on", "policy", default=FAIL_ON, show_default=True)
@click.option("--revision", help="Desired revision (default: HEAD).")
@click.pass_context
def diff(ctx: click.Context, env: str, target: str, policy: str, revision: str | None) -> None:
    """The semantic diff of one target against desired, change by change."""
    from ..report.console import console
    from ..report.diffview import diff_view

    words = fail_on(policy)
    result = judged(repo_of(ctx), env, revision, only={target})
    console().print(diff_view(result, result.tags))
    sys.exit(EXIT_FAIL if result.failures(words) else EXIT_OK)


@click.command()
@env_option
@click.option(
    "--eval",
    "snapshot",
    required=True,
    help="The rendered bundle the eval ran with: a file or an http(s) URL.",
)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.option(
    "--record",
    is_flag=True,
    help="When parity holds, record a passing eval of the snapshot's digest in state.",
)
@click.pass_context
def parity(ctx: click.Context, env: str, snapshot: str, fmt: str, record: bool) -> None:
    """Is the agent under test the agent in production? Exit 0 same, 2 any difference."""
    from ..audit.parity import check_parity, render_parity

    repo = repo_of(ctx)
    bundle, results, digest = check_parity(repo, env, snapshot, dict(os.environ))
    echo(render_parity(env, bundle, snapshot, results, fmt))
    same = all(r.same for r in results)
    if record:
        _record_parity(repo, env, snapshot, digest, same)
    sys.exit(EXIT_OK if same else EXIT_FAIL)


def _record_parity(repo: Path, env: str, snapshot: str, digest: str, same: bool) -> None:
    """``parity --record``: a passing eval record of the snapshot's (recomputed) digest."""
    if not same:
        echo(f"nothing recorded: parity does not hold for {digest}", err=True)
        return
    import getpass

    from ..clock import now
    from ..rollout.evals import describe, record
    from ..state import open_store

    store = open_store(repo, state_of(click.get_current_context()))
    try:
        by, at = getpass.getuser(), now().timestamp()
        entry = record(store, env, digest, "passed", by=by, at=at, report=snapshot)
    finally:
        store.close()
    echo(f"recorded in {env}: eval of {digest} {describe(entry)}", err=True)
