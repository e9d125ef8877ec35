"""The diff engine (design §6, §9): rendered bundle components in, :class:`Change` list out.

Pure: no I/O, no clock, no network or git imports; heavy imports (Jinja) load only when a
prompt needs them. ``diff_bundle`` is the one entry point; the component differs and the JSON
Schema comparison are importable for callers that hold a single component.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .bundle import diff_bundle
    from .change import Breaks, Change, Kind, Severity, worst
    from .components import diff_component
    from .schema import compare_schema, is_subschema

#: Where each name lives: loaded when first asked for, so that importing one light module of
#: the package (``classify``, ``change``, ``document``) does not load the whole engine (an audit
#: whose targets are all in sync never needs it).
_HOMES = {
    "Breaks": "change",
    "Change": "change",
    "Kind": "change",
    "Severity": "change",
    "worst": "change",
    "diff_bundle": "bundle",
    "diff_component": "components",
    "compare_schema": "schema",
    "is_subschema": "schema",
}


def __getattr__(name: str) -> object:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{home}", __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "Breaks",
    "Change",
    "Kind",
    "Severity",
    "compare_schema",
    "diff_bundle",
    "diff_component",
    "is_subschema",
    "worst",
]
