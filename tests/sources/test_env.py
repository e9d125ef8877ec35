"""``${VAR}`` expansion: values from the given mapping only, and never a value in a message."""

from __future__ import annotations

import pytest

from reconciler.errors import ConfigError
from reconciler.variables import expand, expand_headers

SECRET = "s3cr3t-value-9c2e"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Bearer ${TOKEN}", f"Bearer {SECRET}"),
        ("${TOKEN}:${USER_1}", f"{SECRET}:ops"),
        ("no references, $TOKEN and $ alone stay", "no references, $TOKEN and $ alone stay"),
        ("http://h/{bundle}.json", "http://h/{bundle}.json"),
    ],
)
def test_expand_replaces_references(value: str, expected: str) -> None:
    assert expand(value, {"TOKEN": SECRET, "USER_1": "ops"}, "target pop-a") == expected


def test_missing_variable_names_the_target_and_the_variable() -> None:
    with pytest.raises(ConfigError) as caught:
        expand("Bearer ${POP_TOKEN}", {"OTHER": SECRET}, "target pop-a")
    assert str(caught.value) == "target pop-a: environment variable POP_TOKEN is not set"


@pytest.mark.parametrize("value", ["${", "${1ABC}", "${TOKEN", "x ${ TOKEN }"])
def test_malformed_reference_is_a_config_error(value: str) -> None:
    with pytest.raises(ConfigError, match="target pop-a: "):
        expand(value, {"TOKEN": SECRET}, "target pop-a")


def test_header_value_with_a_line_break_is_refused_without_quoting_it() -> None:
    env = {"TOKEN": f"{SECRET}\r\nX-Injected: 1"}
    with pytest.raises(ConfigError) as caught:
        expand_headers({"Authorization": "Bearer ${TOKEN}"}, env, "target pop-a")
    assert "Authorization" in str(caught.value)
    assert SECRET not in str(caught.value)


def test_header_name_must_be_a_token() -> None:
    with pytest.raises(ConfigError, match="not a valid HTTP header name"):
        expand_headers({"Bad Header:": "x"}, {}, "target pop-a")
