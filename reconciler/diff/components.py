"""One differ per component kind (design §6): what changed inside a ``model``, ``prompt/*``,
``tool/*``, ``output_schema/*``, ``guardrail/*`` or ``flag/*``, and what the move means.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from .change import Breaks, Kind, Severity
from .prompt import diff_prompt
from .schema import compare_schema
from .values import MISSING, Delta, fmt, is_number, same, walk

Differ = Callable[[Any, Any], list[Delta]]

#: Where a tool file keeps its arguments' JSON Schema: OpenAI style, then Anthropic style.
TOOL_SCHEMA_KEYS = ("parameters", "input_schema")


def kind_of_component(key: str) -> str:
    """``tool`` for ``tool/book_meeting``, ``model`` for ``model``."""
    return key.split("/", 1)[0]


def _model_label(path: str) -> str:
    # "temperature 0.2 -> 0.9" reads better than "params.temperature 0.2 -> 0.9"
    return path.removeprefix("params.") or "model"


def _numbers(old: Any, new: Any) -> bool:
    """Two different finite numbers (NaN has no direction)."""
    if not (is_number(old) and is_number(new)):
        return False
    return math.isfinite(old) and math.isfinite(new) and not same(old, new)


def _raised(path: str, old: Any, new: Any) -> str:
    """A numeric parameter's direction: ``temperature 0.2 -> 0.9 (raised)``."""
    if not _numbers(old, new):
        return ""
    return " (raised)" if new > old else " (lowered)"


def diff_model(old: Any, new: Any) -> list[Delta]:
    """Provider, name, version, params: the model answers differently, so behavioral; a numeric
    parameter says whether it was raised or lowered."""
    return walk(old, new, "", Severity.BEHAVIORAL, label=_model_label, note=_raised)


#: What a guardrail does on a match, from letting it through to stopping it (the words of
#: Bedrock, Guardrails AI, NeMo and LLM Guard configs). An action moving down the list loosens.
_ACTION_STRICTNESS = {
    **dict.fromkeys(("none", "noop", "allow", "pass", "off", "ignore"), 0),
    **dict.fromkeys(("log", "monitor", "audit", "observe", "detect", "shadow"), 1),
    **dict.fromkeys(("warn", "flag", "notify", "alert"), 2),
    **dict.fromkeys(("redact", "mask", "anonymize", "sanitize", "fix", "filter", "reask"), 3),
    **dict.fromkeys(("block", "deny", "reject", "refuse", "refrain", "exception", "enforce"), 4),
}
#: Settings that name such an action.
_ACTION_SETTINGS = ("action", "on_fail", "on_match", "on_violation", "mode")

#: Guardrail settings whose higher value lets more through (a guardrail blocks at or above a
#: ``threshold``/``score``/``confidence``; a ``max_*`` or ``*limit`` caps less when higher).
_HIGHER_LOOSENS = ("threshold", "score", "confidence", "limit")


def guardrail_direction(path: str, old: Any, new: Any) -> str:
    """The documented direction of a guardrail change (design §6: guardrail settings):

    - ``enabled``: ``true -> false`` is "disabled (loosened)", ``false -> true`` "enabled
      (tightened)";
    - numbers, by the setting's name: ``min_*`` higher blocks more (tightened); ``max_*`` and
      names holding ``threshold``, ``score``, ``confidence`` or ``limit`` higher lets more
      through (loosened), lower tightens; any other number is "raised" or "lowered";
    - lists are sets of what the guardrail catches (``entities``, ``categories``): a member
      removed loosens, one added tightens; for lists named ``allow*`` the reverse;
    - what it does on a match (``action``, ``on_fail``, ``*_action``...), by the strictness
      order none < log < warn < redact < block: ``block -> warn`` loosens. An action outside
      that order has no direction.
    """
    name = path.rsplit(".", 1)[-1].lower()
    if name == "enabled" and isinstance(old, bool) and isinstance(new, bool) and old != new:
        return ": enabled (tightened)" if new else ": disabled (loosened)"
    if name in _ACTION_SETTINGS or name.endswith("_action"):
        return _action_direction(old, new)
    if isinstance(old, list) and isinstance(new, list):  # removed / added members of a set
        if old and new:
            return ""
        loosened = bool(old) != name.startswith("allow")
        return " (loosened)" if loosened else " (tightened)"
    if not _numbers(old, new):
        return ""
    if name.startswith("min_"):
        higher_loosens: bool | None = False
    elif name.startswith("max_") or any(word in name for word in _HIGHER_LOOSENS):
        higher_loosens = True
    else:
        higher_loosens = None
    if higher_loosens is None:
        return _raised(path, old, new)
    return " (loosened)" if (new > old) == higher_loosens else " (tightened)"


def _action_direction(old: Any, new: Any) -> str:
    if not (isinstance(old, str) and isinstance(new, str)):
        return ""
    before = _ACTION_STRICTNESS.get(old.strip().lower())
    after = _ACTION_STRICTNESS.get(new.strip().lower())
    if before is None or after is None or before == after:
        return ""
    return " (loosened)" if after < before else " (tightened)"


def diff_guardrail(old: Any, new: Any) -> list[Delta]:
    """Any setting is behavioral; lists (``entities``) are sets, their order never counts;
    each change says whether the guardrail was loosened or tightened
    (:func:`guardrail_direction`)."""
    return walk(old, new, "", Severity.BEHAVIORAL, lists_as_sets=True, note=guardrail_direction)


def _percent(value: Any) -> Any:
    """``"25%"`` and ``25.0`` are the number 25; anything else as it is."""
    if isinstance(value, str) and value.strip().endswith("%"):
        try:
            return float(value.strip()[:-1])
        except ValueError:
            return value
    return value


def _share(value: float) -> str:
    return f"{round(value, 2):g}%"


def variant_shares(variants: Any) -> dict[str, float] | None:
    """Each variant's share of the total weight in percent (``{"a": 1, "b": 1}`` is 50/50), from
    ``{name: weight}``, ``{name: {"weight": w}}`` or ``[{"name": n, "weight": w}]``; ``None``
    for any other form."""
    weights: dict[str, Any] = {}
    if isinstance(variants, dict):
        for name, value in variants.items():
            weights[name] = value.get("weight") if isinstance(value, dict) else value
    elif isinstance(variants, list):
        for item in variants:
            if not (isinstance(item, dict) and isinstance(item.get("name"), str)):
                return None
            weights[item["name"]] = item.get("weight")
    else:
        return None
    weights = {name: _percent(w) for name, w in weights.items()}
    if not weights or not all(is_number(w) and w >= 0 for w in weights.values()):
        return None
    total = sum(weights.values())
    if not total:
        return None
    return {name: round(w * 100 / total, 6) for name, w in weights.items()}


def _variant_rest(variants: Any) -> Any:
    """What a variant holds besides its weight (payloads), keyed by name."""
    if isinstance(variants, list):
        variants = {item["name"]: item for item in variants}
    return {
        name: {k: v for k, v in value.items() if k not in ("weight", "name")}
        for name, value in variants.items()
        if isinstance(value, dict)
    }


def diff_flag(old: Any, new: Any) -> list[Delta]:
    """``enabled`` ("enabled -> disabled"), ``rollout`` ("rollout 25% -> 50%", ``25`` and
    ``25.0`` and ``"25%"`` alike) and ``variants`` weights as shares of their total ("variant
    treatment 50% -> 30%"); anything else as it is. All behavioral."""
    if not (isinstance(old, dict) and isinstance(new, dict)):
        return walk(old, new, "", Severity.BEHAVIORAL)
    out: list[Delta] = []
    rest_old, rest_new = dict(old), dict(new)
    was, now = rest_old.pop("enabled", MISSING), rest_new.pop("enabled", MISSING)
    if isinstance(was, bool) and isinstance(now, bool):
        if was != now:
            words = ("disabled", "enabled") if now else ("enabled", "disabled")
            summary = f"{words[0]} -> {words[1]}"
            out.append(Delta("enabled", Kind.CHANGED, Severity.BEHAVIORAL, summary))
    else:
        out.extend(
            walk(
                {"enabled": was} if was is not MISSING else {},
                {"enabled": now} if now is not MISSING else {},
                "",
                Severity.BEHAVIORAL,
            )
        )
    was, now = (
        _percent(rest_old.pop("rollout", MISSING)),
        _percent(rest_new.pop("rollout", MISSING)),
    )
    if _numbers(was, now):
        summary = f"rollout {_share(was)} -> {_share(now)}"
        out.append(Delta("rollout", Kind.CHANGED, Severity.BEHAVIORAL, summary))
    elif not same(was, now):
        out.extend(
            walk(
                {"rollout": was} if was is not MISSING else {},
                {"rollout": now} if now is not MISSING else {},
                "",
                Severity.BEHAVIORAL,
            )
        )
    old_shares = variant_shares(rest_old.get("variants", MISSING))
    new_shares = variant_shares(rest_new.get("variants", MISSING))
    if old_shares is not None and new_shares is not None:
        variants_old, variants_new = rest_old.pop("variants"), rest_new.pop("variants")
        for name in sorted(old_shares.keys() | new_shares.keys()):
            sub = f"variants.{name}"
            o, n = old_shares.get(name), new_shares.get(name)
            if o is None and n is not None:
                out.append(
                    Delta(
                        sub, Kind.ADDED, Severity.BEHAVIORAL, f"variant {name} added: {_share(n)}"
                    )
                )
            elif n is None and o is not None:
                summary = f"variant {name} removed (was {_share(o)})"
                out.append(Delta(sub, Kind.REMOVED, Severity.BEHAVIORAL, summary))
            elif o is not None and n is not None and o != n:
                summary = f"variant {name} {_share(o)} -> {_share(n)}"
                out.append(Delta(sub, Kind.CHANGED, Severity.BEHAVIORAL, summary))
        out.extend(
            walk(
                _variant_rest(variants_old),
                _variant_rest(variants_new),
                "variants",
                Severity.BEHAVIORAL,
            )
        )
    out.extend(walk(rest_old, rest_new, "", Severity.BEHAVIORAL))
    return out


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
