"""Every YAML and JSON file is bounded: size, depth, alias expansion, numbers (issue 11).

Each bad file is one ConfigError naming the file (and line), fast, never a RecursionError.
"""

from __future__ import annotations

import time

import pytest
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from reconciler.config.jsonfile import load_json
from reconciler.config.yamlfile import check_tree, parse
from reconciler.errors import ConfigError
from reconciler.limits import MAX_DEPTH, MAX_FILE, MAX_YAML, MAX_YAML_NODES
from reconciler.model.duration import parse_duration, parse_timeout


def _refused(fn, *args) -> ConfigError:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    with pytest.raises(ConfigError) as caught:
        fn(*args)
    assert time.monotonic() - started < 1.0
    assert "\n" not in str(caught.value)
    return caught.value


def _laughs(levels: int, width: int) -> str:
    lines = ["x0: &x0 [" + ", ".join(["lol"] * width) + "]"]
    for level in range(1, levels):
        lines.append(f"x{level}: &x{level} [" + ", ".join([f"*x{level - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


def test_billion_laughs_is_refused_at_the_first_level_past_the_budget() -> None:
    text = _laughs(10, 10)  # 10^10 nodes expanded, 1 KB on disk
    err = _refused(parse, text, "f.yaml")
    # x4 expands to 10^5 scalars (under the budget), x5 to 10^6 (over): line 6.
    assert str(err) == f"f.yaml:6: YAML aliases expand to more than {MAX_YAML_NODES} nodes"


def test_aliases_within_the_budget_are_fine() -> None:
    root = parse(_laughs(4, 10), "f.yaml")  # 10^4 scalars
    assert len(root["x3"][9][9][9]) == 10


def test_the_line_blamed_is_where_the_aliases_are_used() -> None:
    # x4 expands to about 111,000 nodes (within the budget); three uses of it are not.
    text = _laughs(5, 10) + "guardrails:\n  big: {all: *x4, more: [*x4, *x4]}\n"
    err = _refused(parse, text, "f.yaml")
    assert err.line == 7 and text.splitlines()[6].startswith("  big:")


def test_too_many_plain_nodes_are_refused_without_blaming_aliases(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A smaller budget keeps the test fast: ruamel parses about 10,000 nodes a second.
    monkeypatch.setattr("reconciler.config.yamlfile.MAX_YAML_NODES", 1000)
    text = "".join(f"r{i}: [" + ",".join(["1"] * 99) + "]\n" for i in range(10))  # 1010 nodes
    with pytest.raises(ConfigError) as caught:
        parse(text, "f.yaml")
    assert str(caught.value) == "f.yaml:1: the file holds more than 1000 nodes"
    assert parse(text.replace("r9: ", "# r9: "), "f.yaml")


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("a: 1\nx: " + "[" * 3000 + "]" * 3000 + "\n", 2),  # flow: the scanner reads ahead
        ("a: 1\nx:\n  " + "- " * 3000 + "1\n", 3),  # block: "- - -" on one line
        ("x: " + "{a: " * 3000 + "1" + "}" * 3000 + "\n", 1),
    ],
)
def test_deep_yaml_is_refused_at_its_line(text: str, line: int) -> None:
    err = _refused(parse, text, "f.yaml")
    assert str(err) == f"f.yaml:{line}: YAML nested deeper than {MAX_DEPTH} levels"


def test_yaml_exactly_max_depth_deep_is_fine_one_more_is_not() -> None:
    at_limit = "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1)
    assert parse(f"x: {at_limit}\n", "f.yaml") is not None  # the top mapping is level 1
    err = _refused(parse, f"x: [{at_limit}]\n", "f.yaml")
    assert "YAML nested deeper than 64 levels" in str(err)


def test_aliases_cannot_stack_past_the_depth_limit() -> None:
    half = "[" * 40 + "]" * 40
    text = f"a: &a {half}\nb: [{'[' * 30}*a{']' * 30}]\n"
    err = _refused(parse, text, "f.yaml")
    assert str(err) == "f.yaml:2: YAML nested deeper than 64 levels (with its aliases expanded)"


def test_a_cycle_is_refused() -> None:
    # YAML aliases cannot close a cycle through ruamel; a hand-made tree can.
    seq = CommentedSeq([1])
    seq.append(seq)
    with pytest.raises(ConfigError, match="refers to a node that holds it"):
        check_tree(CommentedMap(a=seq), "f.yaml")


@pytest.mark.parametrize("number", [".nan", ".inf", "-.inf"])
def test_yaml_numbers_json_cannot_hold_are_refused(number: str) -> None:
    err = _refused(parse, f"guardrails:\n  toxicity:\n    threshold: {number}\n", "f.yaml")
    assert err.line == 3 and "is not a number JSON can hold" in str(err)


def test_yaml_over_the_size_cap_is_refused_before_parsing() -> None:
    err = _refused(parse, "a: 1\n" + "#" * MAX_YAML, "f.yaml")
    assert str(err).startswith("f.yaml: file is larger than 1 MiB (")


def test_a_huge_integer_is_an_error_not_a_crash() -> None:
    err = _refused(parse, "a: 1" + "0" * 5000 + "\n", "f.yaml")
    assert str(err).startswith("f.yaml: invalid YAML: Exceeds the limit")


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ('{\n  "a": "NaN in a string is fine",\n  "b": NaN\n}', 3, "NaN is not JSON"),
        ('{"a": [1,\n  Infinity]}', 2, "Infinity is not JSON"),
        ('{"a":\n -Infinity}', 2, "-Infinity is not JSON"),
        ('{"a": "1e999",\n "b": 1e999}', 2, "1e999 overflows"),
    ],
)
def test_json_numbers_that_are_not_json_are_refused(text: str, line: int, message: str) -> None:
    err = _refused(load_json, text.encode(), "t.json")
    assert str(err).startswith(f"t.json:{line}: {message}")


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("[" * 100_000 + "]" * 100_000, 1),  # past Python's recursion limit
        ('{"a":\n' + '{"a": ' * 200 + "1" + "}" * 201, 2),  # under it, over MAX_DEPTH
    ],
)
def test_deep_json_is_refused_at_its_line(text: str, line: int) -> None:
    err = _refused(load_json, text.encode(), "t.json")
    assert str(err) == f"t.json:{line}: JSON nested deeper than {MAX_DEPTH} levels"


def test_brackets_inside_json_strings_do_not_count() -> None:
    text = '{"a": "' + "[{" * 500 + '\\"[[["}'
    assert load_json(text.encode(), "t.json") == {"a": "[{" * 500 + '"[[['}
    assert load_json(("[" * MAX_DEPTH + "]" * MAX_DEPTH).encode(), "t.json")


def test_json_over_the_size_cap_is_refused_before_parsing() -> None:
    err = _refused(load_json, b" " * (MAX_FILE + 1), "t.json")
    assert str(err) == f"t.json: file is larger than 4 MiB ({MAX_FILE + 1} bytes)"


@pytest.mark.parametrize(
    "value", ["99999999999999999999d", "1" + "0" * 400 + "s", float("inf"), float("nan"), "367d"]
)
def test_absurd_durations_are_refused(value: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(value)


def test_durations_up_to_a_year_are_fine() -> None:
    assert parse_duration("366d") == 366 * 86400
    assert parse_duration("0s") == 0


@pytest.mark.parametrize("value", ["0s", 0, "99ms", "301s", "1h", "99999999999999999999d"])
def test_timeouts_outside_the_range_are_refused(value: object) -> None:
    with pytest.raises(ValueError, match="between 100ms and 5m"):
        parse_timeout(value)
