"""One differ per component kind (design §6): what changed inside a ``model``, ``prompt/*``,
``tool/*``, ``output_schema/*``, ``guardrail/*`` or ``flag/*``, and what the move means.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .change import Breaks, Kind, Severity
from .prompt import diff_prompt
from .schema import compare_schema
from .values import MISSING, Delta, fmt, same, walk

Differ = Callable[[Any, Any], list[Delta]]

#: Where a tool file keeps its arguments' JSON Schema: OpenAI style, then Anthropic style.
TOOL_SCHEMA_KEYS = ("parameters", "input_schema")


def kind_of_component(key: str) -> str:
    """``tool`` for ``tool/book_meeting``, ``model`` for ``model``."""
    return key.split("/", 1)[0]


def _model_label(path: str) -> str:
    # "temperature 0.2 -> 0.9" reads better than "params.temperature 0.2 -> 0.9"
    return path.removeprefix("params.") or "model"


def diff_model(old: Any, new: Any) -> list[Delta]:
    """Provider, name, version, params: the model answers differently, so behavioral."""
    return walk(old, new, "", Severity.BEHAVIORAL, label=_model_label)


def diff_guardrail(old: Any, new: Any) -> list[Delta]:
    """Any setting is behavioral; lists (``entities``) are sets, their order never counts."""
    return walk(old, new, "", Severity.BEHAVIORAL, lists_as_sets=True)


def diff_flag(old: Any, new: Any) -> list[Delta]:
    """``enabled``, ``rollout`` and ``variants`` weights: behavioral."""
    return walk(old, new, "", Severity.BEHAVIORAL)


def diff_output_schema(old: Any, new: Any) -> list[Delta]:
    """A bare JSON Schema."""
    return compare_schema(old, new, "")


def _tool_schema_key(tool: dict[str, Any]) -> str | None:
    return next((key for key in TOOL_SCHEMA_KEYS if isinstance(tool.get(key), dict)), None)


def diff_tool(old: Any, new: Any) -> list[Delta]:
    """A tool: ``name`` (what the model calls; the dispatcher breaks when it changes),
    ``description`` (the model reads it), the arguments' schema, and any other keys."""
    if not (isinstance(old, dict) and isinstance(new, dict)):
        return walk(old, new, "", Severity.BEHAVIORAL)
    out: list[Delta] = []
    old_key, new_key = _tool_schema_key(old), _tool_schema_key(new)
    rest_old, rest_new = dict(old), dict(new)
    if old_key and new_key:
        schema_old, schema_new = rest_old.pop(old_key), rest_new.pop(new_key)
        found = compare_schema(schema_old, schema_new, new_key, old_document=old, new_document=new)
        out.extend(found)
        if old_key != new_key:
            summary = f"arguments schema moved: {old_key} -> {new_key}"
            out.append(Delta(new_key, Kind.CHANGED, Severity.BEHAVIORAL, summary))
    old_name, new_name = rest_old.pop("name", MISSING), rest_new.pop("name", MISSING)
    if not same(old_name, new_name):
        summary = f"tool name changed: {fmt(old_name)} -> {fmt(new_name)}"
        out.append(Delta("name", Kind.CHANGED, Severity.BREAKING, summary, Breaks.BOTH))
    old_desc, new_desc = old.get("description"), new.get("description")
    if isinstance(old_desc, str) and isinstance(new_desc, str):
        del rest_old["description"], rest_new["description"]
        if old_desc != new_desc:
            summary = f"tool description changed: {fmt(old_desc, 50)} -> {fmt(new_desc, 50)}"
            out.append(Delta("description", Kind.CHANGED, Severity.BEHAVIORAL, summary))
    out.extend(walk(rest_old, rest_new, "", Severity.BEHAVIORAL))
    return out


DIFFERS: dict[str, Differ] = {
    "model": diff_model,
    "prompt": diff_prompt,
    "tool": diff_tool,
    "output_schema": diff_output_schema,
    "guardrail": diff_guardrail,
    "flag": diff_flag,
}


def diff_component(key: str, old: Any, new: Any) -> list[Delta]:
    """The changes inside one component present on both sides."""
    differ = DIFFERS.get(kind_of_component(key))
    if differ is None:  # a component kind from a later version: the model may see it
        return walk(old, new, "", Severity.BEHAVIORAL)
    return differ(old, new)


def component_presence(key: str, kind: Kind) -> Delta:
    """A whole component added or removed (path ``""``)."""
    component = kind_of_component(key)
    name = key.split("/", 1)[1] if "/" in key else key
    label = component.replace("_", " ")
    summary = f"{label} {name} {kind.value}" if name != component else f"{label} {kind.value}"
    if component in ("tool", "output_schema"):
        if kind is Kind.REMOVED:  # code still calling or parsing it finds nothing
            return Delta("", kind, Severity.BREAKING, summary, Breaks.READERS_OF_OLD)
        return Delta("", kind, Severity.COMPATIBLE, summary)
    return Delta("", kind, Severity.BEHAVIORAL, summary)
