"""A backend that reads components hands the audit the very document parsing its JSON would give:
same components, same digests, the same stated revision, and nothing stated it did not read."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.bundle.render import RENDERED_SCHEMA
from reconciler.model.document import parse
from reconciler.sources import InvalidResponse, PermanentError
from reconciler.sources.interface import from_components, to_apply

SCALARS = (
    st.none()
    | st.booleans()
    # Within 64 bits: beyond, orjson (under parse) reads some integers as floats.
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
COMPONENTS = st.dictionaries(st.from_regex(r"(flag|prompt)/[a-z_]{1,8}", fullmatch=True), VALUES)


def as_served(bundle: str, components: dict[str, Any], revision: Any) -> bytes:
    """The JSON body mlflow and unleash used to serialize for the audit to parse."""
    document = {
        "schema": RENDERED_SCHEMA,
        "name": bundle,
        "revision": revision,
        "components": dict(sorted(components.items())),
    }
    return json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8")


@settings(max_examples=200, deadline=None)
@given(COMPONENTS, st.none() | st.text(max_size=8) | st.integers())
def test_observed_is_what_parsing_the_served_json_gives(
    components: dict[str, Any], revision: Any
) -> None:
    try:
        body = as_served("agent", components, revision)
    except UnicodeEncodeError:  # a lone surrogate: no body could carry it
        with pytest.raises(InvalidResponse, match="is not valid Unicode"):
            from_components("agent", components, revision=revision)
        return
    document = from_components("agent", components, revision=revision)
    assert document == parse(body)
    assert list(document.components) == sorted(components)


def test_a_lone_surrogate_is_an_invalid_response_naming_what_held_it() -> None:
    with pytest.raises(InvalidResponse) as caught:
        from_components("agent", {"prompt/p": {"text": "\ud800"}}, what="a prompt text")
    assert str(caught.value) == "a prompt text is not valid Unicode"


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        (b"not json", "cannot apply: not JSON"),
        (as_served("other", {}, None), "cannot apply: the document is bundle 'other'"),
    ],
)
def test_to_apply_refuses_what_is_not_this_bundle(document: bytes, reason: str) -> None:
    with pytest.raises(PermanentError) as caught:
        to_apply("agent", document)
    assert str(caught.value).startswith(reason)
