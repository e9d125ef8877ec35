"""The diff engine (design §6, §9): rendered bundle components in, :class:`Change` list out.

Pure: no I/O, no clock, no network or git imports; heavy imports (Jinja) load only when a
prompt needs them. ``diff_bundle`` is the one entry point; the component differs and the JSON
Schema comparison are importable for callers that hold a single component.
"""

from .bundle import diff_bundle
from .change import Breaks, Change, Kind, Severity, worst
from .components import diff_component
from .schema import compare_schema, is_subschema

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
