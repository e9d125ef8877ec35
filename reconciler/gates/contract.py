"""The output contract: each sampled output validated against its output schema of the bundle
(the ``jsonschema`` package; draft 2020-12 unless the schema's ``$schema`` names another), and
what broke, said the way a person debugging a parser would want it:

    output_schema/report: 37% of 200 outputs miss required property `summary`;
    36% carry undeclared `exec_summary` (37% invalid, above max_invalid 1%)

Pure: lines in, a verdict out. Schemas are the bundle's own (``$ref`` inside the document only:
nothing is fetched). "Undeclared" also names properties a schema allows but does not declare
beside a missing required one: that is how a rename shows.
"""

from __future__ import annotations

import importlib
import itertools
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..config.jsonfile import load_json
from ..errors import ConfigError
from ..limits import MAX_DOCUMENT

#: Errors read per output: enough to name what broke, bounded whatever the output holds.
ERRORS_PER_OUTPUT = 10
LINES = "outputs"  #: where lines that are not outputs at all are counted
NAME_CHARS = 60  #: longest property or schema name quoted (outputs may carry anything)


def percent(share: float) -> str:
    """``37%``, ``1.5%``, ``0.5%``."""
    value = share * 100
    return f"{value:.0f}%" if value >= 10 or value == round(value) else f"{value:.1f}%"


@dataclass(frozen=True)
class Checked:
    """The verdict on one sample of outputs."""

    sampled: int
    invalid: int
    max_invalid: float
    message: str  #: what broke (or how many were invalid), for a finding or a pause
    bundle: str | None = None  #: the bundle of the schema that broke most
    error: str = ""  #: why nothing could be checked (then the rest means nothing)

    @property
    def share(self) -> float:
        return self.invalid / self.sampled if self.sampled else 0.0

    @property
    def broken(self) -> bool:
        """More invalid outputs than ``max_invalid`` allows."""
        return not self.error and self.share > self.max_invalid


def unchecked(why: str, max_invalid: float) -> Checked:
    """Nothing could be checked (the endpoint failed, or gave no outputs)."""
    return Checked(0, 0, max_invalid, f"outputs not checked: {why}", error=why)


class _Schemas:
    """Validators of the bundle's output schemas, built once each."""

    def __init__(self, schemas: Mapping[str, tuple[str, Mapping[str, Any]]]) -> None:
        self.schemas = schemas
        self._built: dict[str, Any] = {}

    def validator(self, name: str) -> Any:
        """The validator of ``name``, or the reason it cannot validate (a str)."""
        if name not in self._built:
            # jsonschema publishes no type information: imported as a plain module, on first use.
            validators = importlib.import_module("jsonschema.validators")
            schema_error = importlib.import_module("jsonschema.exceptions").SchemaError
            schema = self.schemas[name][1]
            cls = validators.validator_for(schema, default=validators.Draft202012Validator)
            try:
                cls.check_schema(schema)
                self._built[name] = cls(schema)
            except schema_error as exc:
                self._built[name] = f"not a valid JSON Schema ({exc.message[:120]})"
        return self._built[name]


def check(
    lines: Sequence[bytes],
    schemas: Mapping[str, tuple[str, Mapping[str, Any]]],
    max_invalid: float,
) -> Checked:
    """Validate each line's ``output`` against ``schemas`` (name -> (bundle, schema))."""
    if not lines:
        return unchecked("the endpoint gave no outputs", max_invalid)
    known = _Schemas(schemas)
    invalid: Counter[str] = Counter()  #: component -> invalid outputs
    phrases: dict[str, Counter[str]] = {}  #: component -> phrase -> outputs
    owners: dict[str, str] = {}  #: component -> the bundle declaring its schema
    for number, line in enumerate(lines, 1):
        component, name, found = _judge_line(line, number, known)
        if found:
            invalid[component] += 1
            phrases.setdefault(component, Counter()).update(found)
            if name in schemas:
                owners[component] = schemas[name][0]
    total = sum(invalid.values())
    n = len(lines)
    if not total:
        return Checked(n, 0, max_invalid, f"0% of {n} outputs invalid")
    worst, _ = invalid.most_common(1)[0]
    (phrase, count), *more = phrases[worst].most_common(2)
    message = f"{worst}: {percent(count / n)} of {n} outputs {phrase}"
    message += "".join(f"; {percent(c / n)} {p}" for p, c in more)
    for other, k in invalid.most_common(4)[1:]:
        where = "" if other == LINES else f"{other}: "
        message += f"; also {where}{percent(k / n)} {phrases[other].most_common(1)[0][0]}"
    verdict = "above" if total / n > max_invalid else "within"
    message += f" ({percent(total / n)} invalid, {verdict} max_invalid {percent(max_invalid)})"
    return Checked(n, total, max_invalid, message, owners.get(worst))


def _judge_line(line: bytes, number: int, known: _Schemas) -> tuple[str, str, list[str]]:
    """(the component it concerns, its schema's name, what is wrong with it: empty if valid)."""
    try:
        record = load_json(line, f"outputs line {number}", limit=MAX_DOCUMENT)
    except ConfigError:
        return LINES, "", ["are not JSON lines"]
    if not isinstance(record, dict) or not isinstance(record.get("schema"), str):
        return LINES, "", ['are not {"schema", "output"} lines']
    name = record["schema"]
    component = f"output_schema/{_short(name)}"
    if name not in known.schemas:
        return component, name, ["name an output schema the bundle lacks"]
    if "output" not in record:
        return component, name, ["carry no `output`"]
    validator = known.validator(name)
    if isinstance(validator, str):
        return component, name, [f"cannot be checked: the schema is {validator}"]
    try:
        errors = list(itertools.islice(validator.iter_errors(record["output"]), ERRORS_PER_OUTPUT))
    except Exception as exc:  # an unresolvable $ref, a pathological pattern: say so, never crash
        return component, name, [f"cannot be checked: {type(exc).__name__}"]
    found: dict[str, None] = {}  # in the validator's order, each once
    for error in errors:
        found.update(dict.fromkeys(describe(error)))
    return component, name, list(found)


def _where(path: Sequence[Any]) -> str:
    """``items[].summary``: array positions are one place, so outputs add up."""
    text = ""
    for part in path:
        text += "[]" if isinstance(part, int) else (f".{_short(part)}" if text else _short(part))
    return text


def _short(name: object) -> str:
    """A property name as an output wrote it, cut to a length a message can carry."""
    text = str(name)
    return text if len(text) <= NAME_CHARS else text[: NAME_CHARS - 1] + "…"


def _declared(schema: Any, key: str) -> bool:
    if not isinstance(schema, dict):
        return True
    if key in (schema.get("properties") or {}):
        return True
    patterns = schema.get("patternProperties") or {}
    try:
        return any(re.search(pattern, key) for pattern in patterns)
    except re.error:
        return True


def _undeclared(error: Any) -> list[str]:
    """Properties of the failing object its schema does not declare (a rename's new name)."""
    if not isinstance(error.instance, dict):
        return []
    at = _where(error.absolute_path)
    prefix = f"{at}." if at else ""
    return [
        f"carry undeclared `{prefix}{_short(key)}`"
        for key in list(error.instance)[:50]
        if not _declared(error.schema, str(key))
    ]


def describe(error: Any) -> list[str]:
    """What one ``jsonschema`` error says, as phrases that add up across outputs (in a fixed
    order: a missing property before the undeclared one beside it, so that equal shares are
    always told in the same order)."""
    keyword = error.validator
    at = _where(error.absolute_path)
    if keyword == "required" and isinstance(error.instance, dict):
        prefix = f"{at}." if at else ""
        missing = [p for p in error.validator_value if p not in error.instance]
        found = [f"miss required property `{prefix}{_short(p)}`" for p in missing]
        return found + _undeclared(error)
    if keyword in ("additionalProperties", "unevaluatedProperties"):
        return _undeclared(error) or [f"fail `{keyword}` at `{at or 'the output'}`"]
    where = f"`{at}`" if at else "the output"
    if keyword == "type":
        return [f"give {where} the wrong type (expected {error.validator_value})"]
    if keyword in ("enum", "const"):
        return [f"give {where} a value outside its {keyword}"]
    return [f"fail `{keyword}` at {where}"]
