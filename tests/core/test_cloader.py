"""The safe C loader built once (config/cloader.py) reads what ``YAML(typ="safe")`` reads: its
own builder for plain mappings and sequences, ruamel's constructor for everything else, and one
object per alias."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from reconciler.config import yamlfile
from reconciler.config.cloader import safe_loader
from reconciler.errors import ConfigError


def load(text: str) -> Any:
    loader = safe_loader()(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


CASES = {
    "plain": "a: x\nb: [1, 2.5, true, null, '7']\nc: {d: e}\n",
    "numbers and dates": "n: 0x1f\nf: 1e3\nd: 2026-12-06\nt: 2026-12-06T18:00:00Z\no: 0o17\n",
    "non-string keys": "2: two\ntrue: yes\n~: none\n2026-01-01: day\n",
    "merge keys": "base: &b {x: 1, y: 2}\nthis:\n  <<: *b\n  y: 3\n",
    "a list of merges": "a: &a {x: 1}\nb: &b {y: 2}\nc: {<<: [*a, *b], z: 3}\n",
    "tags": "s: !!str 12\ni: !!int '7'\nset: !!set {a, b}\nomap: !!omap [{a: 1}, {b: 2}]\n",
    "a scalar document": "just text\n",
    "an empty document": "",
    "a sequence at the top": "- a\n- {b: [c]}\n",
    "complex keys": "? [a, b]\n: pair\n",
    "same plain text, other types": "a: '1'\nb: 1\nc: \"true\"\nd: true\n",
}


@pytest.mark.parametrize("text", CASES.values(), ids=CASES.keys())
def test_reads_what_the_stock_safe_loader_reads(text: str) -> None:
    assert load(text) == YAML(typ="safe").load(text)


def test_dates_and_numbers_keep_their_types() -> None:
    found = load(CASES["numbers and dates"])
    assert found["n"] == 31 and found["o"] == 15 and found["f"] == 1000.0
    assert found["d"] == dt.date(2026, 12, 6)


def test_an_alias_is_one_object() -> None:
    found = load("a: &x {k: [1, 2]}\nb: *x\nc: [*x, *x]\n")
    assert found["a"] is found["b"] is found["c"][0] is found["c"][1]


def test_a_repeated_key_is_ruamels_error_and_values_names_its_line() -> None:
    text = "a: 1\nb: 2\na: 3\n"
    with pytest.raises(YAMLError):
        load(text)
    with pytest.raises(ConfigError) as error:
        yamlfile.values(text, "targets/x.yaml")
    assert error.value.line == 3


def test_nesting_past_the_bound_stops_while_composing() -> None:
    with pytest.raises(RecursionError):
        load("a: " + "[" * 100_000 + "]" * 100_000)


def test_values_copies_what_an_alias_shares_and_keeps_plain_data_as_read() -> None:
    shared = yamlfile.values("a: &x {k: [1]}\nb: *x\n", "x.yaml")
    assert shared == {"a": {"k": [1]}, "b": {"k": [1]}}
    assert shared["a"] is not shared["b"]  # as plain() always made it: no object shared
    keyed = yamlfile.values("2: two\nd: 2026-12-06\n", "x.yaml")
    assert keyed == {"2": "two", "d": dt.date(2026, 12, 6)}  # keys as strings, as before
