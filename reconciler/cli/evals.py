"""``eval record`` (design §8): record an eval of exactly one bundle digest in state, for
``rollout.require_eval`` to wait on. The library decides (:mod:`reconciler.rollout.evals`)."""

from __future__ import annotations

from pathlib import Path

import click

from .shell import echo, env_option, fatal, repo_of, state_of
from .trail import reason_option, recorded, who_option


@click.group("eval")
def eval_group() -> None:
    """Eval records: with rollout.require_eval, no wave starts before a passing one."""


@eval_group.command()
@env_option
@click.option(
    "--digest",
    required=True,
    help="The bundle digest the eval ran (`reconciler render BUNDLE` prints it as digest).",
)
@click.option("--result", type=click.Choice(["passed", "failed"]), required=True)
@click.option("--report", help="Where the eval's report is (a URL).")
@reason_option
@who_option
@click.pass_context
def record(
    ctx: click.Context,
    env: str,
    digest: str,
    result: str,
    report: str | None,
    reason: str | None,
    who: str | None,
) -> None:
    """Record an eval of exactly DIGEST (passed or failed) in ENV's state."""
    from ..rollout.evals import check_digest, check_report

    # Bad arguments write nothing, not even the trail.
    try:
        check_digest(digest)
    except ValueError as exc:
        fatal(f"--digest: {exc}")
    try:
        if report is not None:
            check_report(report)
    except ValueError as exc:
        fatal(f"--report: {exc}")
    with recorded(ctx, env, "eval record", reason, who) as entry:
        entry.details.update({"digest": digest, "result": result})
        _record(ctx, env, digest, result, report, entry.who)


def _record(
    ctx: click.Context, env: str, digest: str, result: str, report: str | None, who: str
) -> None:
    from ..clock import now
    from ..config.inventory import load_inventory
    from ..rollout.evals import describe
    from ..rollout.evals import record as write
    from ..state import open_store

    repo = repo_of(ctx)
    inventory = load_inventory(repo, env)  # a typo in --env is an error, not a stray record
    store = open_store(repo, state_of(ctx))
    try:
        entry = write(store, env, digest, result, by=who, at=now().timestamp(), report=report)
    finally:
        store.close()
    echo(f"recorded in {env}: eval of {digest} {describe(entry)}")
    desired = _desired(repo, inventory.bundles)
    named = [bundle for bundle, d in desired.items() if d == digest]
    if named:
        echo(f"it is the desired digest of {', '.join(named)}")
    else:
        echo(f"note: {digest} is not the desired digest of any bundle at HEAD", err=True)


def _desired(repo: Path, bundles: list[str]) -> dict[str, str]:
    """Each bundle's desired digest (its render at HEAD), for saying what was recorded."""
    from ..rollout.act import Documents

    documents = Documents(repo)
    found = {}
    for bundle in bundles:
        try:
            found[bundle] = documents.digest(bundle, "HEAD")
        except Exception:  # a bundle that does not render at HEAD: nothing to say about it
            continue
    return found
