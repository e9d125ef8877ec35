"""``schema`` (design §8): print the JSON Schema of bundle.yaml or targets/<env>.yaml, for editors
and CI. pydantic loads only when the command runs (:mod:`reconciler.model.schemas` builds it)."""

from __future__ import annotations

import click

from .shell import echo


@click.command("schema")
@click.argument("kind", type=click.Choice(["bundle", "targets"]))
def schema(kind: str) -> None:
    """Print the JSON Schema of bundle.yaml (bundle) or of an environment's targets file.

    Point an editor at it with a first line `# yaml-language-server: $schema=URL-or-path`, or
    check files in CI: `check-jsonschema --schemafile FILE targets/*.yaml`.
    """
    from ..model.schemas import schema_text

    echo(schema_text(kind), nl=False)
