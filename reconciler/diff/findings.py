"""Findings about one side's components, not differences between two sides (design §6).

:func:`model_pin_findings`: a model pinned to an alias (``gpt-4.1``, ``claude-3-5-sonnet-latest``)
rather than a dated version can change under you while every digest stays the same. Pure.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..model.codes import FindingCode

#: A dated version on its own: ``2025-04-14``, ``20241022``.
_DATE = re.compile(r"^(19|20)\d{2}-?(0[1-9]|1[0-2])-?(0[1-9]|[12]\d|3[01])$")
#: A dated suffix in a model name: ``gpt-4o-2024-08-06``, ``claude-3-5-sonnet-20241022``,
#: ``claude-3-5-sonnet-v2@20241022``.
_DATED_NAME = re.compile(r"[-_@:](19|20)\d{2}-?(0[1-9]|1[0-2])-?(0[1-9]|[12]\d|3[01])$")


def is_dated(version: Any) -> bool:
    """Whether ``version`` is a date (``YYYY-MM-DD`` or ``YYYYMMDD``)."""
    return isinstance(version, str) and bool(_DATE.match(version.strip()))


def has_dated_suffix(name: Any) -> bool:
    """Whether a model name ends in a date (``gpt-4o-2024-08-06``)."""
    return isinstance(name, str) and bool(_DATED_NAME.search(name.strip()))


def _model_label(model: Mapping[str, Any]) -> str:
    provider, name = model.get("provider"), model.get("name")
    name_text = name if isinstance(name, str) and name else "(unnamed)"
    return f"{provider}/{name_text}" if isinstance(provider, str) and provider else name_text


def model_pin_findings(components: Mapping[str, Any]) -> list[tuple[FindingCode, str]]:
    """``(code, message)`` for each ``model`` component (``model``, ``model/<name>``) that is not
    pinned to a dated version: neither its ``version`` is a date nor its ``name`` ends in one.

    Code ``model_alias``. A ``version`` that is present but not a date (``latest``, ``1``) is
    named in the message. Sorted by component key.
    """
    out: list[tuple[FindingCode, str]] = []
    for key in sorted(components):
        if key.split("/", 1)[0] != "model":
            continue
        model = components[key]
        if not isinstance(model, Mapping):
            continue
        version = model.get("version")
        if is_dated(version) or has_dated_suffix(model.get("name")):
            continue
        label = _model_label(model)
        if version is None or version == "":
            message = (
                f"model {label} is pinned to an alias, not a dated version: it can change under you"
            )
        else:
            message = (
                f"model {label} is pinned to an alias (version {version!r} is not a date), "
                "not a dated version: it can change under you"
            )
        out.append((FindingCode.MODEL_ALIAS, message))
    return out
