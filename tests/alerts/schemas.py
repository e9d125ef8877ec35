"""The published schemas under tests/schemas (see its README), loaded once, offline."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import jsonschema
from referencing import Registry, Resource

SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"


@functools.cache
def _cdevents_registry() -> Registry:
    """Every CDEvents schema by its ``$id`` (the links refer to each other relatively)."""
    resources = []
    for path in sorted((SCHEMAS / "cdevents").rglob("*.json")):
        document = json.loads(path.read_text())
        resources.append((document["$id"], Resource.from_contents(document)))
    return Registry().with_resources(resources)


@functools.cache
def validator(name: str) -> jsonschema.protocols.Validator:
    """The validator of ``tests/schemas/<name>.json``, formats checked."""
    document = json.loads((SCHEMAS / f"{name}.json").read_text())
    kind = jsonschema.validators.validator_for(document)
    kind.check_schema(document)
    registry = _cdevents_registry() if name.startswith("cdevents/") else Registry()
    return kind(document, registry=registry, format_checker=kind.FORMAT_CHECKER)


def check(name: str, instance: Any) -> None:
    """Raise the first error of ``instance`` against schema ``name``, with its path."""
    errors = sorted(validator(name).iter_errors(instance), key=lambda e: list(e.path))
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in first.absolute_path)
        raise AssertionError(f"{name}: at /{where}: {first.message}")


#: The CDEvents schema of each event type the trail writes.
CDEVENT_SCHEMAS = {
    "dev.cdevents.service.deployed.0.3.0": "cdevents/servicedeployed",
    "dev.cdevents.service.rolledback.0.3.0": "cdevents/servicerolledback",
    "dev.cdevents.testsuiterun.finished.0.3.0": "cdevents/testsuiterunfinished",
}


def check_cloudevent(event: dict[str, Any]) -> None:
    """A CloudEvent carrying a CDEvent: the envelope, then its data against its CDEvents schema
    (a custom ``dev.cdeventsx`` type against the custom-event schema)."""
    check("cloudevents/cloudevents", event)
    kind = event["data"]["context"]["type"]
    assert event["type"] == kind
    check(CDEVENT_SCHEMAS.get(kind, "cdevents/custom"), event["data"])
