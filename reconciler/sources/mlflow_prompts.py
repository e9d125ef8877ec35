"""How a bundle's prompts live in MLflow, and how MLflow's answers read (pure: no I/O).

A ``prompt/<name>`` component is a prompt version's text tag; MLflow spells tags as a list of
key/value objects and answers with JSON objects whose shape is checked here, so a proxy's page
or a half answer is an :class:`~.interface.InvalidResponse`, never a guess.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from .interface import InvalidResponse, PermanentError
from .naming import NameTemplate

#: MLflow's own tags of a prompt and of a prompt version.
IS_PROMPT = "mlflow.prompt.is_prompt"
TEXT = "mlflow.prompt.text"
PROMPT_TYPE = "_mlflow_prompt_type"
#: Provenance stamped on versions apply creates; read back for ``revision``, never to classify.
DIGEST_TAG = "agent-reconciler.digest"
BUNDLE_DIGEST_TAG = "agent-reconciler.bundle_digest"
REVISION_TAG = "agent-reconciler.revision"
#: The longest tag value (so prompt text) MLflow 3 keeps, in characters.
MAX_TEXT = 100_000
#: Search hides prompts unless the filter names their tag (backends.md).
PROMPTS_ONLY = f"tags.`{IS_PROMPT}` = 'true'"

_LITERAL = re.compile(r"[A-Za-z0-9._-]*")  # what MLflow allows in a prompt name, and {bundle}


def prompt_names(template: str, where: str) -> NameTemplate:
    """The ``prompt_name`` template: ``(bundle, prompt) -> MLflow name``, and back by regex."""
    return NameTemplate(
        template,
        key="prompt_name",
        item="prompt",
        literal=_LITERAL.pattern,
        allowed="'.', '_', '-'",
        where=where,
    )


def check_bundle(bundle: str) -> None:
    """Bundle names are plain (model.names); this keeps a bad one out of a search filter."""
    if not bundle or not _LITERAL.fullmatch(bundle):
        raise PermanentError(f"bundle name {bundle!r} cannot be part of an MLflow prompt name")


# -- answers ---------------------------------------------------------------------------------


def error_code(status: int, body: bytes) -> str:
    """MLflow's ``error_code``; a 4xx without one did not come from MLflow's API."""
    try:
        answer = json.loads(body)
    except ValueError:
        answer = None
    code = answer.get("error_code") if isinstance(answer, dict) else None
    if not isinstance(code, str) or not re.fullmatch(r"[A-Z_]{1,64}", code):
        raise InvalidResponse(
            f"HTTP {status} without an MLflow error (is the url an MLflow server?)"
        )
    return code


def json_object(raw: bytes, path: str) -> dict[str, Any]:
    """The JSON object MLflow answered ``path`` with."""
    try:
        data = json.loads(raw)
    except ValueError:
        raise InvalidResponse(f"MLflow {path} answered with something that is not JSON") from None
    if not isinstance(data, dict):
        raise InvalidResponse(f"MLflow {path} answered with JSON that is not an object")
    return data


def field_object(answer: dict[str, Any], field: str) -> dict[str, Any]:
    """The object under ``field`` of an answer (a ``model_version``, a ``registered_model``)."""
    value = answer.get(field)
    if not isinstance(value, dict):
        raise InvalidResponse(f"MLflow answered without a {field!r} object")
    return value


def tags_of(entity: dict[str, Any]) -> dict[str, str]:
    """An entity's tags as a dict (the REST API spells them as a list of key/value objects)."""
    listed = entity.get("tags", [])
    if not isinstance(listed, list):
        raise InvalidResponse("MLflow answered with tags that are not a list")
    # Tags collapse by key with the last value winning, as in MLflow itself.
    return {
        tag["key"]: tag.get("value", "")
        for tag in listed
        if isinstance(tag, dict) and isinstance(tag.get("key"), str)
    }


def tag_list(values: Mapping[str, str]) -> list[dict[str, str]]:
    """Tags as the REST API spells them."""
    return [{"key": key, "value": value} for key, value in values.items()]


def version_text(name: str, version: dict[str, Any]) -> str:
    """The text of prompt ``name``'s aliased ``version``."""
    found = tags_of(version).get(TEXT)
    if not isinstance(found, str):
        raise InvalidResponse(f"prompt {name}: the aliased version has no {TEXT} tag")
    return found  # a chat prompt's text is a JSON list of messages: kept as stored


def version_number(version: dict[str, Any]) -> str:
    number = version.get("version")
    if not isinstance(number, str) or not number.isdigit():
        raise InvalidResponse("MLflow answered with a model version without a version number")
    return number


# -- writing ---------------------------------------------------------------------------------


def prompt_text(key: str, value: Any) -> str:
    """The text of a prompt component to write; MLflow keeps nothing else of it."""
    if not (isinstance(value, dict) and set(value) == {"text"}):
        raise PermanentError(f"cannot apply {key}: MLflow holds a prompt's text only")
    text = value["text"]
    if not isinstance(text, str):
        raise PermanentError(f"cannot apply {key}: its text is not a string")
    if len(text) > MAX_TEXT:
        raise PermanentError(
            f"cannot apply {key}: MLflow keeps at most {MAX_TEXT} characters of text"
        )
    return text
