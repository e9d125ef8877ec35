"""The JSON Schemas of bundle.yaml and targets/<env>.yaml, generated from the models (design §8:
``reconciler schema``), so that editors (yaml-language-server) and CI (check-jsonschema) check
the config files as people write them. Pure: the caller prints or writes them."""

from __future__ import annotations

import json
from typing import Any

from .names import NAME_PATTERN

#: The schema each ``reconciler schema KIND`` prints, and the file it is published as.
KINDS = ("bundle", "targets")

#: Where the schemas are published (the committed files under docs/schemas/, served raw).
PUBLISHED = (
    "https://raw.githubusercontent.com/your-org/agent-reconciler/main/docs/schemas/"
    "{kind}.schema.json"
)

#: The sections of bundle.yaml whose keys are component names.
_SECTIONS = ("prompts", "tools", "output_schemas", "guardrails", "flags")

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


#: Where plain names are (the validators call :func:`~.names.check_name`): a path of keys from the
#: schema's root to the property, and whether its values (``"value"``), the items of its list
#: (``"items"``) or its mapping's keys (``"keys"``) are names.
_NAMES: dict[str, tuple[tuple[tuple[str, ...], str], ...]] = {
    "bundle": (
        (("properties", "name"), "value"),
        *((("properties", section), "keys") for section in _SECTIONS),
    ),
    "targets": (
        (("properties", "environment"), "value"),
        (("properties", "bundles"), "items"),
        (("$defs", "TargetSpec", "properties", "name"), "value"),
        (("$defs", "AnalysisGate", "properties", "name"), "value"),
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
    for path, what in _NAMES[kind]:
        node = generated
        for key in path:
            node = node[key]
        name = {"type": "string", "pattern": NAME_PATTERN}
        if what == "value":
            node.update(name)
        elif what == "items":
            node["items"].update(name)
        else:
            node["propertyNames"] = name
    title, description = _TITLES[kind]
    head = {"$schema": _DRAFT, "$id": PUBLISHED.format(kind=kind)}
    return head | generated | {"title": title, "description": description}


def schema_text(kind: str) -> str:
    """:func:`json_schema` as the committed file holds it: indented JSON and a final newline."""
    return json.dumps(json_schema(kind), indent=2, ensure_ascii=False) + "\n"
