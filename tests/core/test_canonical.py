"""The digest contract (design §7), byte for byte."""

from __future__ import annotations

import hashlib
import json

from reconciler.canonical import bundle_digest, canonical_bytes, digest


def test_component_digest_is_sha256_of_stdlib_canonical_json() -> None:
    value = {"b": [1, 2.5, "é"], "a": {"y": None, "x": True}}
    expected = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert canonical_bytes(value) == expected.encode("utf-8")
    assert digest(value) == "sha256:" + hashlib.sha256(expected.encode()).hexdigest()


def test_key_order_and_number_spelling_never_count() -> None:
    assert digest(json.loads('{"t": 0.2, "a": 1}')) == digest(json.loads('{"a": 1, "t": 0.20}'))


def test_small_floats_use_the_stdlib_spelling() -> None:
    assert canonical_bytes({"x": 1e-7}) == b'{"x":1e-07}'


def test_whitespace_in_text_changes_the_digest() -> None:
    assert digest({"text": "a\n"}) != digest({"text": "a \n"})


def test_bundle_digest_lines_sorted_by_key() -> None:
    digests = {"tool/x": "sha256:2", "model": "sha256:1"}
    text = "model sha256:1\ntool/x sha256:2\n"
    assert bundle_digest(digests) == "sha256:" + hashlib.sha256(text.encode()).hexdigest()
