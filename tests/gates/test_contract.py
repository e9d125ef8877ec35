"""The output contract's verdict, pure (``reconciler.gates.contract.check``): lines in, what broke
out, in words that add up across outputs."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from reconciler.gates.contract import check, percent

REPORT: dict[str, Any] = {
    "type": "object",
    "properties": {
        "summary": {"type": "string"},
        "sentiment": {"enum": ["positive", "neutral", "negative"]},
        "items": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"sku": {"type": "string"}},
                "required": ["sku"],
            },
        },
    },
    "required": ["summary"],
}
SCHEMAS = {"report": ("support-agent", REPORT)}


def line(output: Any, schema: str = "report") -> bytes:
    return json.dumps({"schema": schema, "output": output}).encode()


@pytest.mark.parametrize(
    ("lines", "said"),
    [
        pytest.param(
            [line({"summary": 7})] * 2,
            "output_schema/report: 100% of 2 outputs give `summary` the wrong type "
            "(expected string)",
            id="type",
        ),
        pytest.param(
            [line({"summary": "x", "sentiment": "angry"})],
            "output_schema/report: 100% of 1 outputs give `sentiment` a value outside its enum",
            id="enum",
        ),
        pytest.param(
            [
                line({"summary": "x", "items": [{"sku": "a"}, {"SKU": "b"}]}),
                line({"summary": "x", "items": [{}]}),
            ],
            "output_schema/report: 100% of 2 outputs miss required property `items[].sku`",
            id="array positions add up",
        ),
        pytest.param(
            [b"{not json", b'["a list"]'],
            'outputs: 50% of 2 outputs are not JSON lines; 50% are not {"schema", "output"} lines',
            id="not outputs at all",
        ),
        pytest.param(
            [json.dumps({"schema": "report"}).encode()],
            "output_schema/report: 100% of 1 outputs carry no `output`",
            id="no output",
        ),
    ],
)
def test_what_broke_is_said_so_it_adds_up(lines: list[bytes], said: str) -> None:
    done = check(lines, SCHEMAS, 0.01)
    assert done.broken
    assert done.message.startswith(said), done.message


def test_valid_outputs_and_the_threshold() -> None:
    good = [line({"summary": "x", "items": [{"sku": "a"}]})] * 99
    assert not check(good, SCHEMAS, 0.0).broken
    one_bad = [*good, line({})]
    assert not check(one_bad, SCHEMAS, 0.01).broken  # exactly 1% is not above 1%
    assert check(one_bad, SCHEMAS, 0.005).broken
    assert check(one_bad, SCHEMAS, 0.005).bundle == "support-agent"


def test_a_schema_that_cannot_validate_makes_its_outputs_invalid_without_crashing() -> None:
    broken = {"report": ("b", {"type": "no-such-type"})}
    done = check([line({})], broken, 0.01)
    assert "cannot be checked: the schema is not a valid JSON Schema" in done.message
    remote = {"report": ("b", {"$ref": "https://example.invalid/schema.json"})}
    done = check([line({})], remote, 0.01)  # never fetched: the bundle's own schemas only
    assert done.broken and "cannot be checked" in done.message


def test_what_an_output_carries_is_quoted_short() -> None:
    long = "k" * 500
    done = check([line({long: 1})], SCHEMAS, 0.01)
    assert "k" * 59 + "…`" in done.message and "k" * 61 not in done.message
    unknown = check([line({}, schema="s" * 500)], SCHEMAS, 0.01)
    assert len(unknown.message) < 300


def test_no_outputs_is_not_a_pass() -> None:
    done = check([], SCHEMAS, 0.01)
    assert done.error and not done.broken and done.message.startswith("outputs not checked")


@pytest.mark.parametrize(
    ("share", "text"),
    [(0.37, "37%"), (0.015, "1.5%"), (0.005, "0.5%"), (0.01, "1%"), (1.0, "100%")],
)
def test_percent(share: float, text: str) -> None:
    assert percent(share) == text


def test_equal_shares_are_told_in_one_order_whatever_the_hash_seed() -> None:
    """A rename misses `summary` and carries `exec_summary` on the same outputs: equal shares.
    Their order once followed set iteration, so the message changed with PYTHONHASHSEED."""
    code = (
        "import json; from reconciler.gates.contract import check; "
        "from tests.gates.test_contract import SCHEMAS, line; "
        "print(check([line({'exec_summary': 'x'})] * 2 + [line({'summary': 'y'})], SCHEMAS, "
        "0.01).message)"
    )
    said = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={"PYTHONHASHSEED": str(seed), "PATH": ""},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in range(6)
    }
    assert said == {
        "output_schema/report: 67% of 3 outputs miss required property `summary`; 67% carry "
        "undeclared `exec_summary` (67% invalid, above max_invalid 1%)\n"
    }
