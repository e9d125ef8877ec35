"""The secrets registry and scrubber (design §11): what is remembered, and how text is masked."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from reconciler import secrets
from reconciler.secrets import MASK, remember, remember_url, scrub, scrub_data

TOKEN = "sk-live-0123456789abcdef01234567"


@pytest.fixture(autouse=True)
def fresh() -> Iterator[None]:
    """The registry is process-wide: each test starts and ends with nothing known."""
    secrets.forget_all()
    yield
    secrets.forget_all()


def test_nothing_known_leaves_text_and_data_alone() -> None:
    data = {"a": [TOKEN]}
    assert scrub(f"Bearer {TOKEN}") == f"Bearer {TOKEN}"
    assert scrub_data(data) is data  # no copy when there is nothing to mask


def test_every_occurrence_is_masked() -> None:
    remember(TOKEN)
    assert scrub(f"Bearer {TOKEN}, again {TOKEN}.") == f"Bearer {MASK}, again {MASK}."
    assert scrub("nothing here") == "nothing here"
    assert scrub("") == ""


def test_longest_first() -> None:
    remember("abcdef")
    remember("abcdefghij")
    assert scrub("xx abcdefghij yy") == f"xx {MASK} yy"  # never "***ghij"
    assert scrub("xx abcdefXYZ yy") == f"xx {MASK}XYZ yy"


def test_overlapping_values_are_masked_as_their_union() -> None:
    remember("abcdefgh")
    remember("efghijkl")
    assert scrub("<abcdefghijkl>") == f"<{MASK}>"  # neither leaves the other's end behind
    remember("mnopqr")
    assert scrub("abcdefghmnopqr") == MASK  # touching values read as one mask


def test_short_values_are_not_remembered() -> None:
    for value in ("", "a", "abc", "12345", "  abc  "):
        remember(value)
    assert secrets.known() == frozenset()
    assert scrub("abc 12345 a") == "abc 12345 a"  # no mangled output
    remember("123456")  # MIN_LENGTH is enough
    assert scrub("x123456x") == f"x{MASK}x"


def test_remembering_none_or_twice_is_harmless() -> None:
    remember(None)
    remember(TOKEN)
    before = secrets.known()
    remember(TOKEN)
    assert secrets.known() is before  # known already: nothing rebuilt


def test_unicode_values() -> None:
    value = "pässwörd-ünïcode-🔑"
    remember(value)
    assert scrub(f"x {value} y") == f"x {MASK} y"
    # As it reads in JSON, whether non-ASCII is escaped or not, and in a repr.
    assert value not in scrub(json.dumps({"k": value}, ensure_ascii=False))
    escaped = json.dumps({"k": value})
    assert scrub(escaped) == json.dumps({"k": MASK})
    assert json.loads(scrub(escaped)) == {"k": MASK}


def test_json_and_repr_escaped_forms() -> None:
    value = 'quote"and\\backslash'
    remember(value)
    assert json.loads(scrub(json.dumps({"k": value}))) == {"k": MASK}
    assert scrub(repr(value)) == f"'{MASK}'"


def test_percent_encoded_form() -> None:
    value = "tok+en/with=base64=="
    remember(value)
    assert scrub("?key=tok%2Ben%2Fwith%3Dbase64%3D%3D&x=1") == f"?key={MASK}&x=1"


def test_a_secret_cut_by_an_ellipsis_is_masked() -> None:
    long = "sk-live-" + "0123456789abcdef" * 6
    remember(long)
    shortened = f"name: 'Bearer {long}'"[:59] + "…"  # as diff.values.fmt shortens
    assert scrub(shortened) == f"name: 'Bearer {MASK}…"
    assert scrub(f"{long[:30]}...{long[-6:]}") == f"{MASK}...{MASK}"  # a middle cut
    assert scrub(json.dumps(shortened)) == json.dumps(f"name: 'Bearer {MASK}…")
    # Fewer than MIN_PIECE characters of it are no piece.
    assert scrub("sk-…") == "sk-…"


def test_data_structures() -> None:
    remember(TOKEN)
    data = {
        "reason": f"schema is 'Bearer {TOKEN}'",
        TOKEN: [1, 2.5, None, True, {"deep": [f"{TOKEN}!"]}],
        "tuple": (TOKEN, "ok"),
        "n": 3,
    }
    assert scrub_data(data) == {
        "reason": f"schema is 'Bearer {MASK}'",
        MASK: [1, 2.5, None, True, {"deep": [f"{MASK}!"]}],
        "tuple": (MASK, "ok"),
        "n": 3,
    }
    assert data["reason"].endswith(f"{TOKEN}'")  # the original is left as it was


def test_a_url_is_remembered_whole_with_its_credentials() -> None:
    url = "https://bot:pw@hooks.example.com/services/T000/B000/XXXXSECRET?ch=ops"
    remember_url(url)
    assert scrub(f"posted to {url}") == f"posted to {MASK}"
    text = scrub("POST /services/T000/B000/XXXXSECRET?ch=ops as bot:pw@")
    assert text == f"POST {MASK} as {MASK}"
    assert scrub("pw") == "pw"  # a two-letter password alone would mangle everything
    remember_url("postgresql://app:s3cr3t-pass@db:5432/state")
    assert scrub("password s3cr3t-pass rejected") == f"password {MASK} rejected"


def test_expand_remembers_what_it_substitutes() -> None:
    from reconciler.variables import expand

    assert expand("Bearer ${TOKEN}", {"TOKEN": TOKEN}, "target a") == f"Bearer {TOKEN}"
    assert scrub(f"reflected: Bearer {TOKEN}") == f"reflected: Bearer {MASK}"


def test_an_inventory_remembers_its_secrets_up_front() -> None:
    from reconciler.config.inventory import remember_secrets
    from reconciler.model.inventory import Inventory

    text = json.dumps(
        {
            "environment": "production",
            "bundles": ["agent"],
            "targets": [
                {
                    "name": "a",
                    "source": {
                        "type": "http",
                        "url": "https://x.example/{bundle}.json",
                        "headers": {"Authorization": "Bearer ${TOKEN}", "X-Id": "${SHORT}"},
                    },
                }
            ],
            "alerts": [
                {"type": "webhook", "url": "${HOOK}"},
                {"type": "webhook", "url": "${GONE}"},
            ],
        }
    )
    inventory = Inventory.model_validate_json(text)
    hook = "https://hooks.example.com/services/T0/B0/XYZSECRET"
    remember_secrets(inventory, text, {"TOKEN": TOKEN, "SHORT": "ab", "HOOK": hook})
    assert scrub(f"{TOKEN} {hook} /services/T0/B0/XYZSECRET ab") == f"{MASK} {MASK} {MASK} ab"
    assert scrub("${GONE} is not set") == "${GONE} is not set"  # a template is no secret


def test_a_webhook_url_is_remembered_whole_when_an_alert_is_sent() -> None:
    from reconciler.alerts import Alert, deliver
    from reconciler.model.inventory import AlertSpec
    from tests.servers.webhook import running_webhook

    alert = Alert("production", "agent", "stalled", "firing", None, (("t", "no answer"),))
    with running_webhook() as hook:
        url = f"http://127.0.0.1:{hook.port}/services/T0/B0/{TOKEN}"
        spec = AlertSpec(type="webhook", url="${HOOK_URL}")
        assert deliver(alert, [spec], {"HOOK_URL": url}) == []
    assert scrub(f"posted to {url}") == f"posted to {MASK}"
    assert scrub(f"path /services/T0/B0/{TOKEN}") == f"path {MASK}"


def test_an_alert_is_sent_masked() -> None:
    from reconciler.alerts import Alert

    remember(TOKEN)
    reason = f"invalid: schema is 'Bearer {TOKEN}'"
    alert = Alert("production", "agent", "stalled", "firing", None, (("t", reason),), TOKEN)
    payload = json.dumps(alert.payload())
    assert TOKEN not in payload and MASK in payload
    assert TOKEN not in alert.text()


def test_scrubbing_is_cheap() -> None:
    """A 1000-target JSON report: next to nothing when nothing is known, little otherwise."""
    report = json.dumps(
        {"targets": [{"name": f"t{i}", "error": "x" * 80, "status": "ok"} for i in range(1000)]}
    )
    started = time.perf_counter()
    for _ in range(10):
        scrub(report)
    idle = (time.perf_counter() - started) / 10
    for i in range(20):
        remember(f"{TOKEN}-{i}")
    started = time.perf_counter()
    for _ in range(10):
        scrub(report)
    busy = (time.perf_counter() - started) / 10
    assert idle < 0.001 and busy < 0.05, (idle, busy)
