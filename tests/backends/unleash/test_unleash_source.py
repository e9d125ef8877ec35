"""The ``unleash`` source against a real Unleash 8 on PostgreSQL: mapping, round trips, errors."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from reconciler.bundle.render import Rendered, flag_component
from reconciler.canonical import component_digests
from reconciler.errors import ConfigError
from reconciler.model.bundle import Flag
from reconciler.model.document import Document
from reconciler.sources import (
    InvalidResponse,
    NotFound,
    PermanentError,
    SourceContext,
    SourceError,
    TransientError,
    Unauthorized,
    open_source,
)
from reconciler.sources.unleash import open_unleash
from tests.servers.nginx import Nginx
from tests.sources.support import apply, closed_port, failure, fetch, run, silent_port, target

from .server import Unleash

REVISION = "a" * 40


def spec(url: str, **source: Any) -> dict[str, Any]:
    return {
        "type": "unleash",
        "url": url,
        "environment": "production",
        "token": "${UNLEASH_TOKEN}",
        **source,
    }


def flags_target(unleash: Unleash, **source: Any) -> Any:
    return target(spec(unleash.url, **source), name="flags", kind="flag-platform")


def env(unleash: Unleash) -> dict[str, str]:
    return {"UNLEASH_TOKEN": unleash.token}


def rendered(bundle: str, flags: dict[str, Flag], revision: str = REVISION) -> Rendered:
    """A rendered bundle as render makes it: a model and a prompt beside the flags."""
    components: dict[str, Any] = {
        "model": {"provider": "openai", "name": "gpt-4.1"},
        "prompt/system": {"text": "You help.\n"},
    }
    components.update({f"flag/{name}": flag_component(flag) for name, flag in flags.items()})
    return Rendered.build(bundle, revision, components)


def flag_digests(document: Document) -> dict[str, str]:
    return {k: v for k, v in document.digests.items() if k.startswith("flag/")}


def fetched(spec_: Any, bundle: str, tmp_path: Path, unleash: Unleash) -> Document:
    document = run(spec_, fetch(bundle), root=tmp_path, env=env(unleash))
    assert isinstance(document, Document)  # parsed by the source: the audit takes it as is
    return document


def wanted(render: Rendered) -> dict[str, str]:
    return {k: v for k, v in render.digests.items() if k.startswith("flag/")}


def rollout(value: str, groupid: str, variants: list[dict[str, Any]] | None = None) -> dict:
    return {
        "name": "flexibleRollout",
        "parameters": {"rollout": value, "stickiness": "default", "groupId": groupid},
        "constraints": [],
        "variants": variants or [],
    }


def state(unleash: Unleash, name: str) -> dict[str, Any]:
    """What a write could change (Unleash fills ``lifecycle`` in by itself, in the background)."""
    feature = unleash.feature(name)
    return {key: feature[key] for key in ("description", "type", "archived", "environments")}


FLAGS = {
    "booking_v2": Flag(enabled=True, rollout=25, variants={"control": 50, "treatment": 50}),
    "three_way": Flag(enabled=True, rollout=12.5, variants={"a": 33.3, "b": 33.3, "c": 33.4}),
    "dark_mode": Flag(enabled=False, rollout=100),
    "kill_switch": Flag(enabled=True, rollout=0, variants={"only": 100}),
}


# -- fetch ---------------------------------------------------------------------------------------


def test_fetch_reads_hand_made_flags_in_the_render_shape(
    unleash: Unleash, bundle: str, tmp_path: Path
) -> None:
    variants = [
        {"name": "treatment", "weight": 500, "weightType": "variable", "stickiness": "default"},
        {"name": "control", "weight": 500, "weightType": "variable", "stickiness": "default"},
    ]
    unleash.create(f"{bundle}.booking_v2")
    unleash.add_strategy(f"{bundle}.booking_v2", rollout("25", "anything", variants))
    unleash.switch(f"{bundle}.booking_v2", True)
    unleash.create(f"{bundle}.everyone")  # Unleash's own "default" strategy: 100%
    unleash.add_strategy(f"{bundle}.everyone", {"name": "default"})
    unleash.switch(f"{bundle}.everyone", True)
    unleash.create(f"{bundle}.bare")  # no strategy at all: 100% too, but off
    # Not this bundle's: another bundle's, a prefix look-alike, an archived one.
    unleash.create(f"{bundle}x.other")
    unleash.create(f"other.{bundle}.booking_v2")
    unleash.create(f"{bundle}.gone")
    unleash.archive(f"{bundle}.gone")

    document = fetched(flags_target(unleash), bundle, tmp_path, unleash)

    assert document.name == bundle
    assert document.components == {
        "flag/bare": {"enabled": False, "rollout": 100, "variants": {}},
        "flag/booking_v2": {
            "enabled": True,
            "rollout": 25,
            "variants": {"control": 50, "treatment": 50},
        },
        "flag/everyone": {"enabled": True, "rollout": 100, "variants": {}},
    }
    # Digest for digest what render makes of the same flags in bundle.yaml.
    expected = rendered(
        bundle,
        {
            "bare": Flag(enabled=False),
            "booking_v2": Flag(enabled=True, rollout=25, variants={"treatment": 50, "control": 50}),
            "everyone": Flag(enabled=True, rollout=100.0),
        },
    )
    assert flag_digests(document) == wanted(expected)


def test_a_bundle_without_features_is_missing(
    unleash: Unleash, bundle: str, tmp_path: Path
) -> None:
    unleash.create(f"{bundle}-lookalike.flag")
    error = failure(flags_target(unleash), fetch(bundle), root=tmp_path, env=env(unleash))
    assert type(error) is NotFound
    assert bundle in str(error)


def test_an_unknown_project_is_an_error_not_missing(
    unleash: Unleash, bundle: str, tmp_path: Path
) -> None:
    spec_ = flags_target(unleash, project="no-such-project")
    error = failure(spec_, fetch(bundle), root=tmp_path, env=env(unleash))
    assert type(error) is PermanentError
    assert str(error) == "project no-such-project does not exist"


def test_an_environment_outside_the_project_is_an_error(
    unleash: Unleash, bundle: str, tmp_path: Path
) -> None:
    unleash.create(f"{bundle}.flag")
    spec_ = flags_target(unleash, environment="staging")
    for operation in (fetch(bundle), apply(bundle, rendered(bundle, FLAGS).to_bytes())):
        error = failure(spec_, operation, root=tmp_path, env=env(unleash))
        assert type(error) is PermanentError
        assert str(error) == "environment staging is not enabled in project default"


# -- apply ---------------------------------------------------------------------------------------


def test_apply_then_fetch_gives_back_the_rendered_flags(
    unleash: Unleash, bundle: str, tmp_path: Path
) -> None:
    render = rendered(bundle, FLAGS)
    spec_ = flags_target(unleash)
    run(spec_, apply(bundle, render.to_bytes()), root=tmp_path, env=env(unleash))

    document = fetched(spec_, bundle, tmp_path, unleash)
    assert flag_digests(document) == wanted(render)
    assert set(document.components) == {f"flag/{name}" for name in FLAGS}

    name = f"{bundle}.three_way"
    feature = unleash.feature(name)
    assert feature["type"] == "release"
    # Provenance: the revision and digests, readable in Unleash's UI.
    assert REVISION in feature["description"]
    assert render.digest in feature["description"]
    assert render.digests["flag/three_way"] in feature["description"]
    production = unleash.env(name)
    assert production["enabled"] is True
    [strategy] = production["strategies"]
    assert strategy["name"] == "flexibleRollout"
    assert strategy["parameters"] == {"rollout": "12.5", "stickiness": "default", "groupId": name}
    weights = {v["name"]: v["weight"] for v in strategy["variants"]}
    assert weights == {"a": 333, "b": 333, "c": 334}
    # Only the target's environment is written.
    development = unleash.env(name, "development")
    assert development["enabled"] is False
    assert development["strategies"] == []


def test_apply_is_idempotent(unleash: Unleash, bundle: str, tmp_path: Path) -> None:
    render = rendered(bundle, FLAGS)
    spec_ = flags_target(unleash)
    run(spec_, apply(bundle, render.to_bytes()), root=tmp_path, env=env(unleash))
    first = fetched(spec_, bundle, tmp_path, unleash)
    events = {name: unleash.events(f"{bundle}.{name}") for name in FLAGS}

    run(spec_, apply(bundle, render.to_bytes()), root=tmp_path, env=env(unleash))

    assert fetched(spec_, bundle, tmp_path, unleash) == first
    # Unleash logs an event per write: the second apply wrote nothing.
    assert {name: unleash.events(f"{bundle}.{name}") for name in FLAGS} == events


def test_apply_moves_a_flag_to_the_next_revision_in_place(
    unleash: Unleash, bundle: str, tmp_path: Path
) -> None:
    spec_ = flags_target(unleash)
    old = rendered(bundle, {"f": Flag(enabled=True, rollout=10, variants={"a": 50, "b": 50})})
    run(spec_, apply(bundle, old.to_bytes()), root=tmp_path, env=env(unleash))
    [before] = unleash.env(f"{bundle}.f")["strategies"]

    new = rendered(
        bundle, {"f": Flag(enabled=False, rollout=60, variants={"a": 90, "b": 10})}, "b" * 40
    )
    run(spec_, apply(bundle, new.to_bytes()), root=tmp_path, env=env(unleash))

    assert flag_digests(fetched(spec_, bundle, tmp_path, unleash)) == wanted(new)
    [after] = unleash.env(f"{bundle}.f")["strategies"]
    assert after["id"] == before["id"]  # updated, not replaced
    assert "b" * 40 in unleash.feature(f"{bundle}.f")["description"]


def test_hand_edits_show_as_drift_and_apply_repairs_them(
    unleash: Unleash, bundle: str, tmp_path: Path
) -> None:
    spec_ = flags_target(unleash)
    render = rendered(bundle, {"f": Flag(enabled=True, rollout=30, variants={"x": 50, "y": 50})})
    run(spec_, apply(bundle, render.to_bytes()), root=tmp_path, env=env(unleash))
    name = f"{bundle}.f"
    [managed] = unleash.env(name)["strategies"]
    # By hand: a constraint on our strategy and a second strategy that lets everyone in.
    edited = {
        **managed,
        "constraints": [{"contextName": "userId", "operator": "IN", "values": ["1"]}],
    }
    unleash.update_strategy(name, managed["id"], {k: edited[k] for k in rollout("30", name)})
    unleash.add_strategy(name, {"name": "default"})

    drifted = fetched(spec_, bundle, tmp_path, unleash)
    assert drifted.components["flag/f"]["unmanaged"] == ["constraints", "strategy default"]
    assert drifted.digests["flag/f"] != render.digests["flag/f"]

    run(spec_, apply(bundle, render.to_bytes()), root=tmp_path, env=env(unleash))

    assert flag_digests(fetched(spec_, bundle, tmp_path, unleash)) == wanted(render)
    [repaired] = unleash.env(name)["strategies"]
    assert repaired["id"] == managed["id"]
    assert repaired["constraints"] == []


def test_apply_never_touches_features_the_document_does_not_name(
    unleash: Unleash, bundle: str, tmp_path: Path
) -> None:
    mine_by_hand = f"{bundle}.legacy"  # this bundle's name pattern, but not in the document
    unleash.create(mine_by_hand)
    unleash.add_strategy(mine_by_hand, rollout("5", mine_by_hand))
    unleash.switch(mine_by_hand, True)
    other = f"{bundle}-other.f"
    unleash.create(other)
    untouched = {name: state(unleash, name) for name in (mine_by_hand, other)}

    spec_ = flags_target(unleash)
    render = rendered(bundle, {"f": Flag(enabled=True)})
    run(spec_, apply(bundle, render.to_bytes()), root=tmp_path, env=env(unleash))

    assert {name: state(unleash, name) for name in untouched} == untouched
    # Fetch still shows it: the target holds a flag the bundle lacks (drift, not hidden).
    document = fetched(spec_, bundle, tmp_path, unleash)
    assert set(document.components) == {"flag/f", "flag/legacy"}


def test_apply_writes_only_the_flags_the_target_carries(
    unleash: Unleash, bundle: str, tmp_path: Path
) -> None:
    spec_ = target(spec(unleash.url), name="flags", carries=["flag/a*", "prompt/*"])
    render = rendered(bundle, {"a1": Flag(enabled=True), "b1": Flag(enabled=True)})
    run(spec_, apply(bundle, render.to_bytes()), root=tmp_path, env=env(unleash))
    assert unleash.names(f"{bundle}.") == [f"{bundle}.a1"]
    unleash.create(f"{bundle}.b2")
    document = fetched(spec_, bundle, tmp_path, unleash)
    assert set(document.components) == {"flag/a1"}


def test_an_archived_flag_is_missing_and_apply_brings_it_back(
    unleash: Unleash, bundle: str, tmp_path: Path
) -> None:
    spec_ = flags_target(unleash)
    render = rendered(bundle, {"f": Flag(enabled=True, rollout=40)})
    run(spec_, apply(bundle, render.to_bytes()), root=tmp_path, env=env(unleash))
    unleash.archive(f"{bundle}.f")
    error = failure(spec_, fetch(bundle), root=tmp_path, env=env(unleash))
    assert type(error) is NotFound

    # The archived feature blocks its name (409): apply revives it, so its history stays.
    run(spec_, apply(bundle, render.to_bytes()), root=tmp_path, env=env(unleash))

    assert flag_digests(fetched(spec_, bundle, tmp_path, unleash)) == wanted(render)
    history = unleash.call("GET", f"events/{bundle}.f")["events"]
    kinds = [event["type"] for event in reversed(history)]
    assert kinds[0] == "feature-created"
    assert kinds.index("feature-archived") < kinds.index("feature-revived")
    assert "feature-deleted" not in kinds


@pytest.mark.parametrize(
    ("variants", "reason"),
    [
        ({"a": 33.33, "b": 33.33, "c": 33.34}, "variant a weighs 33.33%, finer than"),
        ({"a": 1, "b": 1}, "variant weights add up to 2, not 100"),
    ],
)
def test_weights_unleash_cannot_hold_are_refused_before_any_write(
    unleash: Unleash, bundle: str, tmp_path: Path, variants: dict[str, float], reason: str
) -> None:
    render = rendered(
        bundle, {"ok": Flag(enabled=True), "bad": Flag(enabled=True, variants=variants)}
    )
    error = failure(
        flags_target(unleash), apply(bundle, render.to_bytes()), root=tmp_path, env=env(unleash)
    )
    assert type(error) is PermanentError
    assert str(error).startswith("cannot apply flag/bad: ")
    assert reason in str(error)
    assert unleash.names(f"{bundle}.") == []


def test_a_flag_name_template_maps_both_ways(unleash: Unleash, bundle: str, tmp_path: Path) -> None:
    spec_ = flags_target(unleash, flag_name="agents_{bundle}__{flag}")
    render = rendered(bundle, {"f.one": Flag(enabled=True, rollout=70)})
    run(spec_, apply(bundle, render.to_bytes()), root=tmp_path, env=env(unleash))
    assert unleash.names(f"agents_{bundle}__") == [f"agents_{bundle}__f.one"]
    assert flag_digests(fetched(spec_, bundle, tmp_path, unleash)) == wanted(render)


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ("{bundle}.flags", "must hold {flag} once"),
        ("{flag}.{flag}", "must hold {flag} once"),
        ("{bundle}.{flag}.{env}", "unknown {env}"),
        ("{bundle}/{flag}", "may hold only"),
    ],
)
def test_a_bad_flag_name_template_fails_at_open(
    tmp_path: Path, template: str, problem: str
) -> None:
    async def main() -> None:
        async with SourceContext(tmp_path, {"UNLEASH_TOKEN": "t"}) as ctx:
            open_source(target(spec("http://127.0.0.1:9", flag_name=template)), ctx)

    with pytest.raises(ConfigError, match="flag_name") as caught:
        asyncio.run(main())
    assert problem in str(caught.value)


def test_an_unset_token_variable_fails_at_open(tmp_path: Path) -> None:
    async def main() -> None:
        async with SourceContext(tmp_path, {}) as ctx:
            open_source(target(spec("http://127.0.0.1:9")), ctx)

    with pytest.raises(ConfigError, match="environment variable UNLEASH_TOKEN is not set"):
        asyncio.run(main())


# -- unreachable, invalid, secrets ---------------------------------------------------------------

SECRET = "*:*.do-not-print-me-7f3a91"


def test_a_server_that_is_down_is_transient(bundle: str, tmp_path: Path) -> None:
    with closed_port() as port:
        spec_ = target(spec(f"http://127.0.0.1:{port}"))
        for operation in (fetch(bundle), apply(bundle, rendered(bundle, FLAGS).to_bytes())):
            error = failure(spec_, operation, root=tmp_path, env={"UNLEASH_TOKEN": SECRET})
            assert type(error) is TransientError
            assert "connection refused" in str(error)
            assert SECRET not in str(error)


def test_a_server_slower_than_the_timeout_is_transient(bundle: str, tmp_path: Path) -> None:
    async def main(port: int) -> SourceError:
        async with SourceContext(tmp_path, {"UNLEASH_TOKEN": SECRET}) as ctx:
            spec_ = target(spec(f"http://127.0.0.1:{port}"))
            source = open_unleash(spec_.source, spec_, ctx, timeout=0.3)
            try:
                await source.fetch(bundle)
            except SourceError as exc:
                return exc
            raise AssertionError("fetch returned")

    with silent_port() as port:
        error = asyncio.run(main(port))
    assert type(error) is TransientError
    assert str(error) == "project default: timed out after 0.3s"


def test_an_error_page_is_unreachable_with_its_status(
    nginx: Nginx, bundle: str, tmp_path: Path
) -> None:
    spec_ = target(spec(nginx.url("unavailable")))  # nginx answers 503 there
    error = failure(spec_, fetch(bundle), root=tmp_path, env={"UNLEASH_TOKEN": SECRET})
    assert type(error) is TransientError
    assert str(error) == "project default: HTTP 503"


def test_an_html_page_instead_of_the_api_is_invalid(
    nginx: Nginx, bundle: str, tmp_path: Path
) -> None:
    page = nginx.root / "not-unleash/api/admin/projects/default/features"
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text("<html><body>Welcome to nginx!</body></html>\n")
    spec_ = target(spec(nginx.url("not-unleash")))
    error = failure(spec_, fetch(bundle), root=tmp_path, env={"UNLEASH_TOKEN": SECRET})
    assert type(error) is InvalidResponse
    assert "not JSON" in str(error)


def test_a_wrong_token_is_unauthorized_and_never_printed(
    unleash: Unleash, bundle: str, tmp_path: Path
) -> None:
    spec_ = flags_target(unleash)
    for operation in (fetch(bundle), apply(bundle, rendered(bundle, FLAGS).to_bytes())):
        error = failure(spec_, operation, root=tmp_path, env={"UNLEASH_TOKEN": SECRET})
        assert type(error) is Unauthorized
        assert "unauthorized (HTTP 401)" in str(error)
        assert SECRET not in str(error) and SECRET not in repr(error)


def test_errors_from_a_real_server_never_quote_the_token(
    unleash: Unleash, bundle: str, tmp_path: Path
) -> None:
    bad = rendered(bundle, {"f": Flag(enabled=True)})
    errors = [
        failure(
            flags_target(unleash, project="nope"), fetch(bundle), root=tmp_path, env=env(unleash)
        ),
        failure(flags_target(unleash), fetch(bundle), root=tmp_path, env=env(unleash)),
        failure(
            flags_target(unleash, environment="nope"),
            apply(bundle, bad.to_bytes()),
            root=tmp_path,
            env=env(unleash),
        ),
    ]
    secret = unleash.token.split(".", 1)[1]
    assert all(secret not in str(error) for error in errors)


def test_health_is_unleash_own_health_endpoint(unleash: Unleash, tmp_path: Path) -> None:
    async def check(url: str) -> tuple[bool, str]:
        async with SourceContext(tmp_path, env(unleash)) as ctx:
            health = await open_source(target(spec(url)), ctx).health()
            return health.ok, health.reason

    assert asyncio.run(check(unleash.url)) == (True, "")
    with closed_port() as port:
        ok, reason = asyncio.run(check(f"http://127.0.0.1:{port}"))
    assert not ok
    assert reason == "connection refused"


def test_fetched_documents_carry_recomputable_digests_only(
    unleash: Unleash, bundle: str, tmp_path: Path
) -> None:
    render = rendered(bundle, {"f": Flag(enabled=True)})
    spec_ = flags_target(unleash)
    run(spec_, apply(bundle, render.to_bytes()), root=tmp_path, env=env(unleash))
    doc = fetched(spec_, bundle, tmp_path, unleash)
    assert doc.stated_digests is None and doc.stated_revision is None
    assert doc.digests == component_digests(doc.components)
