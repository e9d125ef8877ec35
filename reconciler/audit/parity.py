"""Eval-prod parity: is the agent an eval ran with the agent each target serves?

The eval snapshot is a rendered bundle (a file or a URL); every target is fetched and its carried
components are compared with the snapshot's, so "the agent under test is not the agent in
production" becomes a list of paths per target.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..canonical import bundle_digest
from ..diff import diff_bundle
from ..diff.change import Change
from ..errors import ConfigError
from ..model.document import Document, InvalidDocument, parse
from ..model.inventory import HttpSourceSpec, Inventory, TargetSpec
from ..sources.interface import SourceError
from .fetch import Result, fetch_all


@dataclass
class TargetParity:
    """One target against the eval snapshot."""

    name: str
    kind: str
    same: bool
    error: str | None = None
    changes: list[Change] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "same": self.same,
            "error": self.error,
            "changes": [c.to_json() for c in self.changes],
        }


async def _fetch(
    repo_root: Path, environ: dict[str, str], snapshot: str, inventory: Inventory, bundle: str
) -> tuple[Result, list[Result]]:
    from ..sources.file import FileSource
    from ..sources.interface import threaded
    from ..sources.registry import SourceContext, open_source

    async with SourceContext(repo_root, environ) as ctx:
        if snapshot.startswith(("http://", "https://")):
            spec = HttpSourceSpec(type="http", url=snapshot)
            eval_source = open_source(TargetSpec(name="eval", source=spec), ctx)
        else:
            # The snapshot may live anywhere (an eval harness's output), unlike a file target.
            path = Path(snapshot).resolve()
            reader = FileSource(path.parent, path.name, target="eval", max_body=ctx.max_body)
            eval_source = threaded(reader)
        try:
            (eval_body,) = await fetch_all([("eval", bundle)], {"eval": eval_source})
        except SourceError as exc:
            eval_body = exc
        sources = {t.name: open_source(t, ctx) for t in inventory.targets}
        bodies = await fetch_all([(t.name, bundle) for t in inventory.targets], sources)
    return eval_body, bodies


def _document(body: Result, bundle: str) -> Document | str:
    if isinstance(body, SourceError):
        return str(body) or type(body).__name__
    try:
        doc = body if isinstance(body, Document) else parse(body)
    except InvalidDocument as exc:
        return str(exc)
    if doc.name != bundle:
        return f"serves bundle {doc.name!r}, not {bundle!r}"
    return doc


def check_parity(
    repo_root: Path, environment: str, snapshot: str, environ: dict[str, str]
) -> tuple[str, list[TargetParity], str]:
    """Per target, the changes from the eval snapshot to what the target serves; and the
    snapshot's bundle digest, recomputed from its content (what ``--record`` records)."""
    from ..config.inventory import load_inventory

    inventory = load_inventory(repo_root, environment)
    # A device fleet serves a distribution, not one document: parity compares documents.
    stores = [t for t in inventory.targets if not t.is_devices()]
    inventory = inventory.model_copy(update={"targets": stores})
    if len(inventory.bundles) != 1:
        raise ConfigError(
            "parity compares one bundle; this environment has several",
            file=f"targets/{environment}.yaml",
        )
    bundle = inventory.bundles[0]
    eval_body, bodies = asyncio.run(_fetch(repo_root, environ, snapshot, inventory, bundle))
    evaluated = _document(eval_body, bundle)
    if isinstance(evaluated, str):
        raise ConfigError(f"eval snapshot {snapshot}: {evaluated}")
    results = []
    for target, body in zip(inventory.targets, bodies, strict=True):
        served = _document(body, bundle)
        if isinstance(served, str):
            results.append(TargetParity(target.name, target.kind, False, error=served))
            continue
        ran = {k: v for k, v in evaluated.components.items() if target.carries_component(k)}
        live = {k: v for k, v in served.components.items() if target.carries_component(k)}
        changes = diff_bundle(ran, live)
        results.append(TargetParity(target.name, target.kind, not changes, changes=changes))
    return bundle, results, bundle_digest(evaluated.digests)


def render_parity(
    environment: str, bundle: str, snapshot: str, results: list[TargetParity], fmt: str
) -> str:
    """The parity report: each target same or not, and each differing path."""
    differs = [r for r in results if not r.same]
    if fmt == "json":
        import json

        return json.dumps(
            {
                "schema": "agent-reconciler.parity/v1",
                "environment": environment,
                "bundle": bundle,
                "eval": snapshot,
                "same": not differs,
                "targets": [r.to_json() for r in results],
            },
            indent=2,
        )
    lines = []
    for result in results:
        if result.same:
            lines.append(f"  {result.name}: same as the eval")
            continue
        reason = result.error or f"{len(result.changes)} difference(s)"
        lines.append(f"  {result.name}: DIFFERS — {reason}")
        for change in result.changes:
            where = f"{change.component}.{change.path}" if change.path else change.component
            lines.append(f"      {change.severity:<10} {where}: {change.summary}")
    lines.append(
        "the agent under test is not the agent in production"
        if differs
        else "parity: every target serves the agent the eval ran with"
    )
    return "\n".join(lines)
