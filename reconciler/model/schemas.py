"""The JSON Schemas of bundle.yaml and targets/<env>.yaml, generated from the models (design §8:
``reconciler schema``), so that editors (yaml-language-server) and CI (check-jsonschema) check
the config files as people write them. Pure: the caller prints or writes them."""

from __future__ import annotations

import json
from typing import Any

#: The schema each ``reconciler schema KIND`` prints, and the file it is published as.
KINDS = ("bundle", "targets")

#: Where the schemas are published (the committed files under docs/schemas/, served raw).
PUBLISHED = (
    "https://raw.githubusercontent.com/your-org/agent-reconciler/main/docs/schemas/"
    "{kind}.schema.json"
)

_DRAFT = "https://json-schema.org/draft/2020-12/schema"

_TITLES = {
    "bundle": (
        "bundle.yaml",
        "The desired config of one agent (agent-reconciler/v1 AgentBundle): model, prompts, "
        "tools, output schemas, guardrails, flags.",
    ),
    "targets": (
        "targets/<environment>.yaml",
        "One environment's fleet: its targets and their sources, ignore rules, rollout policy, "
        "gates, alerts and signature verification.",
    ),
}


def json_schema(kind: str) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of ``kind``: ``bundle`` or ``targets``.

    It accepts the spellings the loader accepts (``for``, ``schema``, ``apiVersion``; durations
    as ``90s`` or seconds; shares as ``1%``) and, like the loader, no unknown key.
    """
    if kind == "bundle":
        from .bundle import BundleSpec

        generated = BundleSpec.model_json_schema(by_alias=True, mode="validation")
    elif kind == "targets":
        from .inventory import Inventory

        generated = Inventory.model_json_schema(by_alias=True, mode="validation")
    else:
        raise ValueError(f"no schema named {kind!r} (schemas: {', '.join(KINDS)})")
    title, description = _TITLES[kind]
    head = {"$schema": _DRAFT, "$id": PUBLISHED.format(kind=kind)}
    return head | generated | {"title": title, "description": description}


def schema_text(kind: str) -> str:
    """:func:`json_schema` as the committed file holds it: indented JSON and a final newline."""
    return json.dumps(json_schema(kind), indent=2, ensure_ascii=False) + "\n"
