"""The ``reconciler`` command: a thin shell over the library (design §8, contract).

Every command module is imported here, explicitly, and added to the group: nothing registers
itself by an import side effect. Only click loads at start-up, so ``--help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path

import click

from .evals import eval_group
from .inspect import audit, diff, parity, plan, render, skew, validate
from .rollouts import converge, rollback, rollout, state
from .schema import schema
from .service import daemon, demo
from .shell import Group
from .trail import events

#: Every command, in the order ``--help`` lists them.
COMMANDS = (
    validate, render, audit, plan, skew, diff, parity,
    converge, rollback, rollout, eval_group, events, state, daemon, demo, schema,
)  # fmt: skip


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--repo",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="The config repo (bundles/ and targets/).",
)
@click.option(
    "--state",
    help="The state store: sqlite:///PATH or postgresql://... ${VAR} allowed "
    "(default: $RECONCILER_STATE_URL, else .reconciler/state.db in the repo).",
)
@click.version_option(package_name="agent-reconciler")
@click.pass_context
def main(ctx: click.Context, repo: Path, state: str | None) -> None:
    """GitOps reconciler and drift auditor for AI agents.

    One git repo is the source of truth for an agent's whole config; the reconciler reads what
    every region, POP, prompt registry and flag platform runs, and says what differs and since when.
    """
    ctx.obj = repo
    ctx.meta["reconciler.state"] = state


for _command in COMMANDS:
    main.add_command(_command)
