"""The ``mlflow`` source against a real MLflow server: mapping, missing, apply, errors, secrets."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.bundle.render import Rendered
from reconciler.errors import ConfigError
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
from reconciler.sources import mlflow as mlflow_source
from reconciler.sources.interface import TooLarge
from reconciler.sources.mlflow import open_mlflow
from tests.servers.nginx import Nginx
from tests.sources.support import apply, closed_port, failure, fetch, run, silent_port, target

from .server import AdminError, Mlflow

REVISION = "a" * 40
TOKEN = "mlflow-secret-7c1e0d"


def registry(url: str, **source: Any) -> dict[str, Any]:
    return {"type": "mlflow", "url": url, **source}


def rendered(bundle: str, revision: str | None = REVISION, **prompts: str) -> Rendered:
    """A whole bundle: the registry carries its prompts only."""
    components: dict[str, Any] = {
        "model": {"provider": "openai", "name": "gpt-4.1", "version": "2025-04-14"},
        "tool/book": {"name": "book", "description": "Book", "parameters": {"type": "object"}},
    }
    components.update({f"prompt/{name}": {"text": text} for name, text in prompts.items()})
    return Rendered.build(bundle, revision, components)


def prompts_of(document: Rendered) -> dict[str, str]:
    return {k: v for k, v in document.digests.items() if k.startswith("prompt/")}


def fetched(mlflow: Mlflow, bundle: str, tmp_path: Path, **source: Any) -> Document:
    document = run(target(registry(mlflow.url, **source)), fetch(bundle), root=tmp_path)
    assert isinstance(document, Document)  # parsed by the source: the audit takes it as is
    return document


def applied(mlflow: Mlflow, document: Rendered, tmp_path: Path, **source: Any) -> None:
    spec = target(registry(mlflow.url, **source))
    run(spec, apply(document.name, document.to_bytes()), root=tmp_path)


# -- fetch ------------------------------------------------------------------------------------


def test_fetch_reads_the_aliased_versions_of_the_bundles_prompts(
    mlflow: Mlflow, bundle: str, tmp_path: Path
) -> None:
    mlflow.publish(f"{bundle}.system", "You are {{agent}}.\n")
    mlflow.publish(f"{bundle}.greeting", "old hello")
    mlflow.publish(f"{bundle}.greeting", "Hello!  \r\n")  # the alias moves to version 2
    mlflow.publish(f"{bundle}-other.system", "another bundle's prompt")

    document = fetched(mlflow, bundle, tmp_path)

    assert document.name == bundle
    assert document.components == {
        "prompt/greeting": {"text": "Hello!  \r\n"},
        "prompt/system": {"text": "You are {{agent}}.\n"},
    }
    desired = rendered(bundle, greeting="Hello!  \r\n", system="You are {{agent}}.\n")
    assert document.digests == prompts_of(desired)  # in sync, digest for digest
    assert document.stated_revision is None  # no reconciler stamp on hand-made versions
    assert document.stated_digests is None  # every digest is computed, none is stated


def test_no_prompt_for_the_bundle_is_not_found(mlflow: Mlflow, bundle: str, tmp_path: Path) -> None:
    mlflow.publish(f"{bundle}x.system", "a bundle whose name only starts alike")
    error = failure(target(registry(mlflow.url)), fetch(bundle), root=tmp_path)
    assert type(error) is NotFound
    assert str(error) == f"no MLflow prompt named like '{bundle}.%' has alias 'production'"


def test_a_prompt_without_the_alias_is_absent(mlflow: Mlflow, bundle: str, tmp_path: Path) -> None:
    mlflow.create_prompt(f"{bundle}.draft")
    mlflow.create_version(f"{bundle}.draft", "never released")
    mlflow.publish(f"{bundle}.system", "released", alias="staging")

    error = failure(target(registry(mlflow.url)), fetch(bundle), root=tmp_path)
    assert type(error) is NotFound  # no prompt has "production": the bundle is missing

    mlflow.publish(f"{bundle}.system", "in production")
    assert fetched(mlflow, bundle, tmp_path).components == {
        "prompt/system": {"text": "in production"}
    }
    staging = fetched(mlflow, bundle, tmp_path, alias="staging")
    assert staging.components == {"prompt/system": {"text": "released"}}


def test_a_version_rewritten_over_rest_is_seen(mlflow: Mlflow, bundle: str, tmp_path: Path) -> None:
    desired = rendered(bundle, system="Be brief.")
    applied(mlflow, desired, tmp_path)
    version = mlflow.aliased(f"{bundle}.system")["version"]

    # Same version number, same alias, other text: only comparing text can tell.
    mlflow.set_version_tag(f"{bundle}.system", version, "mlflow.prompt.text", "Be verbose.")

    assert mlflow.aliased(f"{bundle}.system")["version"] == version
    drifted = fetched(mlflow, bundle, tmp_path)
    assert drifted.components == {"prompt/system": {"text": "Be verbose."}}
    assert drifted.digests != prompts_of(desired)

    applied(mlflow, desired, tmp_path)  # no version holds the text any more: a new one is made
    healed = fetched(mlflow, bundle, tmp_path)
    assert healed.digests == prompts_of(desired)
    assert mlflow.versions(f"{bundle}.system") == ["1", "2"]


def test_a_chat_prompt_keeps_its_text_as_stored(
    mlflow: Mlflow, bundle: str, tmp_path: Path
) -> None:
    chat = json.dumps([{"role": "system", "content": "You are {{agent}}."}])
    mlflow.create_prompt(f"{bundle}.chat")
    version = mlflow.create_version(f"{bundle}.chat", chat, prompt_type="chat")
    mlflow.set_alias(f"{bundle}.chat", "production", version)
    assert fetched(mlflow, bundle, tmp_path).components == {"prompt/chat": {"text": chat}}


def test_a_custom_name_template_maps_names_back_exactly(
    mlflow: Mlflow, bundle: str, tmp_path: Path
) -> None:
    # "_" is a LIKE wildcard: bundle "x_y" must not pick up bundle "xzy"'s prompts.
    like_me, lookalike = f"{bundle}_y", f"{bundle}zy"
    mlflow.publish(f"prompts-{like_me}--system", "mine")
    mlflow.publish(f"prompts-{lookalike}--system", "not mine")
    mlflow.publish(f"prompts-{like_me}--guard.v2", "dotted prompt names map back too")
    source = {"prompt_name": "prompts-{bundle}--{prompt}"}
    assert fetched(mlflow, like_me, tmp_path, **source).components == {
        "prompt/system": {"text": "mine"},
        "prompt/guard.v2": {"text": "dotted prompt names map back too"},
    }


def test_search_and_versions_are_paged(
    mlflow: Mlflow, bundle: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mlflow_source, "_PAGE", 2)
    for index in range(5):
        mlflow.publish(f"{bundle}.p{index}", f"text {index}")
    for index in range(4):
        mlflow.create_version(f"{bundle}.p0", f"later {index}")
    assert len(fetched(mlflow, bundle, tmp_path).components) == 5

    # The oldest version (on the last page, newest first or not) is found and reused.
    texts = {f"p{index}": f"text {index}" for index in range(5)}
    mlflow.set_alias(f"{bundle}.p0", "production", "5")
    applied(mlflow, rendered(bundle, **texts), tmp_path)
    assert mlflow.aliased(f"{bundle}.p0")["version"] == "1"
    assert len(mlflow.versions(f"{bundle}.p0")) == 5


# -- apply ------------------------------------------------------------------------------------


def test_apply_then_fetch_round_trip(mlflow: Mlflow, bundle: str, tmp_path: Path) -> None:
    desired = rendered(bundle, system="Ünïcode, {{var}} and\ttabs\n\n", empty="")
    applied(mlflow, desired, tmp_path)

    document = fetched(mlflow, bundle, tmp_path)
    assert document.digests == prompts_of(desired)
    assert document.stated_revision == REVISION

    version = mlflow.aliased(f"{bundle}.system")
    assert version["source"] == "prompt-template"
    assert version["tags"] == {
        "mlflow.prompt.is_prompt": "true",
        "mlflow.prompt.text": "Ünïcode, {{var}} and\ttabs\n\n",
        "_mlflow_prompt_type": "text",
        "agent-reconciler.digest": desired.digests["prompt/system"],
        "agent-reconciler.bundle_digest": desired.digest,
        "agent-reconciler.revision": REVISION,
    }


def test_apply_is_idempotent(mlflow: Mlflow, bundle: str, tmp_path: Path) -> None:
    desired = rendered(bundle, system="Be brief.", greeting="Hi.")
    applied(mlflow, desired, tmp_path)
    applied(mlflow, desired, tmp_path)
    applied(mlflow, rendered(bundle, "b" * 40, system="Be brief.", greeting="Hi."), tmp_path)
    for name in ("system", "greeting"):
        assert mlflow.versions(f"{bundle}.{name}") == ["1"]
        # The version keeps the revision that made it: a stamp records, it never decides.
        assert mlflow.aliased(f"{bundle}.{name}")["tags"]["agent-reconciler.revision"] == REVISION


def test_apply_reuses_a_version_with_the_same_text(
    mlflow: Mlflow, bundle: str, tmp_path: Path
) -> None:
    old, new = rendered(bundle, system="v1 text"), rendered(bundle, "b" * 40, system="v2 text")
    applied(mlflow, old, tmp_path)
    applied(mlflow, new, tmp_path)
    assert mlflow.aliased(f"{bundle}.system")["version"] == "2"
    applied(mlflow, old, tmp_path)  # a rollback moves the alias back: no third version
    assert mlflow.aliased(f"{bundle}.system")["version"] == "1"
    assert mlflow.versions(f"{bundle}.system") == ["1", "2"]


def test_revision_is_stated_only_when_the_versions_agree(
    mlflow: Mlflow, bundle: str, tmp_path: Path
) -> None:
    applied(mlflow, rendered(bundle, system="Be brief.", greeting="Hi."), tmp_path)
    assert fetched(mlflow, bundle, tmp_path).stated_revision == REVISION
    # Only the greeting changes at revision b: system keeps the version revision a made.
    applied(mlflow, rendered(bundle, "b" * 40, system="Be brief.", greeting="Hello."), tmp_path)
    document = fetched(mlflow, bundle, tmp_path)
    assert document.stated_revision is None
    assert document.components["prompt/greeting"] == {"text": "Hello."}


def test_apply_adopts_a_prompt_made_by_hand_and_leaves_others_alone(
    mlflow: Mlflow, bundle: str, tmp_path: Path
) -> None:
    mlflow.create_prompt(f"{bundle}.system")  # exists, no version, no alias
    mlflow.publish(f"{bundle}.retired", "a prompt the bundle no longer has")
    applied(mlflow, rendered(bundle, system="Be brief."), tmp_path)
    assert fetched(mlflow, bundle, tmp_path).components == {
        "prompt/retired": {"text": "a prompt the bundle no longer has"},  # never deleted
        "prompt/system": {"text": "Be brief."},
    }


def test_apply_writes_only_the_prompts_the_target_carries(
    mlflow: Mlflow, bundle: str, tmp_path: Path
) -> None:
    spec = target(registry(mlflow.url), carries=["prompt/system"])
    desired = rendered(bundle, system="Be brief.", greeting="Hi.")
    run(spec, apply(bundle, desired.to_bytes()), root=tmp_path)
    assert mlflow.prompt_names(f"{bundle}.%") == [f"{bundle}.system"]
    mlflow.publish(f"{bundle}.greeting", "not carried")
    document = run(spec, fetch(bundle), root=tmp_path)
    assert isinstance(document, Document)
    assert document.digests == {"prompt/system": desired.digests["prompt/system"]}


def test_apply_with_another_alias_and_template(mlflow: Mlflow, bundle: str, tmp_path: Path) -> None:
    source = {"alias": "staging", "prompt_name": "{prompt}-for-{bundle}"}
    desired = rendered(bundle, system="Be brief.")
    applied(mlflow, desired, tmp_path, **source)
    assert mlflow.aliased(f"system-for-{bundle}", "staging")["tags"]["mlflow.prompt.text"] == (
        "Be brief."
    )
    assert fetched(mlflow, bundle, tmp_path, **source).digests == prompts_of(desired)
    with pytest.raises(AdminError, match="INVALID_PARAMETER_VALUE"):
        mlflow.aliased(f"system-for-{bundle}", "production")  # other aliases untouched


def test_apply_refuses_a_registered_model_of_the_same_name(
    mlflow: Mlflow, bundle: str, tmp_path: Path
) -> None:
    mlflow.create_model(f"{bundle}.system")
    spec = target(registry(mlflow.url))
    error = failure(spec, apply(bundle, rendered(bundle, system="x").to_bytes()), root=tmp_path)
    assert type(error) is PermanentError
    assert (
        str(error)
        == f"cannot apply prompt/system: {bundle}.system is a registered model, not a prompt"
    )


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        (b"not json", "cannot apply: not JSON"),
        (rendered("someone-else", system="x").to_bytes(), "is bundle 'someone-else'"),
        (
            Rendered.build("B", None, {"prompt/p": {"text": "x", "model": "y"}}).to_bytes(),
            "cannot apply prompt/p: MLflow holds a prompt's text only",
        ),
        (
            Rendered.build("B", None, {"prompt/p": {"text": "x" * 100_001}}).to_bytes(),
            "cannot apply prompt/p: MLflow keeps at most 100000 characters of text",
        ),
    ],
)
def test_apply_refuses_what_mlflow_cannot_hold(
    mlflow: Mlflow, bundle: str, tmp_path: Path, document: bytes, reason: str
) -> None:
    document = document.replace(b'"B"', json.dumps(bundle).encode())
    error = failure(target(registry(mlflow.url)), apply(bundle, document), root=tmp_path)
    assert type(error) is PermanentError
    assert reason in str(error)
    assert mlflow.prompt_names(f"{bundle}.%") == []  # nothing written


# -- configuration ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ({"prompt_name": "{bundle}"}, "must hold {prompt} once"),
        ({"prompt_name": "{prompt}.{prompt}"}, "must hold {prompt} once"),
        ({"prompt_name": "{bundle}.{name}"}, "unknown {name}"),
        ({"prompt_name": "{bundle}/{prompt}"}, "may hold only letters"),
        ({"alias": "latest"}, "not 'latest'"),
        ({"alias": "prod/eu"}, "must be letters"),
        ({"alias": "v3"}, "reserved by MLflow"),
        ({"url": "ftp://127.0.0.1"}, "is not an http:// or https:// URL"),
        ({"headers": {"Authorization": "Bearer ${UNSET_TOKEN}"}}, "UNSET_TOKEN is not set"),
    ],
)
def test_bad_settings_are_config_errors_naming_the_target(
    tmp_path: Path, source: dict[str, Any], message: str
) -> None:
    spec = target({**registry("http://127.0.0.1:9"), **source}, name="prompt-registry")

    async def main() -> None:
        async with SourceContext(tmp_path, {}) as ctx:
            open_source(spec, ctx)

    with pytest.raises(ConfigError) as caught:
        asyncio.run(main())
    assert str(caught.value).startswith("target prompt-registry: ")
    assert message in str(caught.value)


# -- failures ---------------------------------------------------------------------------------


def secret_spec(url: str) -> Any:
    return target(registry(url, headers={"Authorization": "Bearer ${MLFLOW_TOKEN}"}))


def test_headers_reach_the_server(mlflow: Mlflow, bundle: str, tmp_path: Path) -> None:
    mlflow.publish(f"{bundle}.system", "x")
    document = run(
        secret_spec(mlflow.url), fetch(bundle), root=tmp_path, env={"MLFLOW_TOKEN": TOKEN}
    )
    assert isinstance(document, Document)
    assert document.components == {"prompt/system": {"text": "x"}}
    assert run(
        secret_spec(mlflow.url), lambda s: s.health(), root=tmp_path, env={"MLFLOW_TOKEN": TOKEN}
    ).ok


def test_a_server_that_is_down_is_transient(tmp_path: Path) -> None:
    with closed_port() as port:
        spec = secret_spec(f"http://127.0.0.1:{port}")
        env = {"MLFLOW_TOKEN": TOKEN}
        fetching = failure(spec, fetch("b"), root=tmp_path, env=env)
        applying = failure(
            spec, apply("b", rendered("b", system="x").to_bytes()), root=tmp_path, env=env
        )
    assert type(fetching) is TransientError
    assert str(fetching) == "connection refused"
    assert type(applying) is TransientError
    assert str(applying) == "connection refused"


def test_a_slow_server_times_out(tmp_path: Path) -> None:
    with silent_port() as port:
        spec = secret_spec(f"http://127.0.0.1:{port}")

        async def main() -> Document:
            async with SourceContext(tmp_path, {"MLFLOW_TOKEN": TOKEN}) as ctx:
                return await open_mlflow(spec.source, spec, ctx, timeout=0.3).fetch("b")

        with pytest.raises(TransientError) as caught:
            asyncio.run(main())
    assert str(caught.value) == "timed out after 0.3s"


def test_an_error_page_is_unreachable(nginx: Nginx, tmp_path: Path) -> None:
    env = {"MLFLOW_TOKEN": TOKEN}
    error = failure(secret_spec(nginx.url("unavailable")), fetch("b"), root=tmp_path, env=env)
    assert type(error) is TransientError  # 503 three times (retried), an HTML page each time
    assert str(error) == "HTTP 503"


def test_a_server_that_is_not_mlflow_is_invalid(nginx: Nginx, tmp_path: Path) -> None:
    page = nginx.root / "login/api/2.0/mlflow/registered-models/search"
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text("<html><body>Please sign in</body></html>")
    env = {"MLFLOW_TOKEN": TOKEN}

    error = failure(secret_spec(nginx.url("login")), fetch("b"), root=tmp_path, env=env)
    assert type(error) is InvalidResponse
    assert str(error) == "MLflow registered-models/search answered with something that is not JSON"

    # A 404 page is not MLflow saying "no such prompt": the url is wrong, not the bundle missing.
    error = failure(secret_spec(nginx.url("nothing-here")), fetch("b"), root=tmp_path, env=env)
    assert type(error) is InvalidResponse
    assert str(error) == "HTTP 404 without an MLflow error (is the url an MLflow server?)"


def test_refused_credentials_are_unauthorized(nginx: Nginx, tmp_path: Path) -> None:
    spec = secret_spec(nginx.url("private"))
    error = failure(spec, fetch("b"), root=tmp_path, env={"MLFLOW_TOKEN": TOKEN})
    assert type(error) is Unauthorized
    assert str(error) == "unauthorized (HTTP 401)"


def test_an_oversized_answer_is_invalid(mlflow: Mlflow, bundle: str, tmp_path: Path) -> None:
    mlflow.publish(f"{bundle}.system", "x" * 5000)
    spec = target(registry(mlflow.url))
    error = failure(spec, fetch(bundle), root=tmp_path, max_body=1000)
    assert type(error) is TooLarge  # an InvalidResponse: it answered, too much
    assert str(error) == "response larger than 1000 bytes"


def test_errors_never_hold_secrets(nginx: Nginx, mlflow: Mlflow, tmp_path: Path) -> None:
    env = {"MLFLOW_TOKEN": TOKEN, "MLFLOW_HOST": f"user:{TOKEN}@127.0.0.1"}
    errors: list[SourceError] = []
    with closed_port() as port, silent_port() as silent:
        in_url = target(registry(f"http://${{MLFLOW_HOST}}:{port}"))  # credentials in the URL
        errors.append(failure(in_url, fetch("b"), root=tmp_path, env=env))
        for url in (
            f"http://127.0.0.1:{port}",
            nginx.url("unavailable"),
            nginx.url("private"),
            nginx.url("nothing-here"),
        ):
            errors.append(failure(secret_spec(url), fetch("b"), root=tmp_path, env=env))
        errors.append(failure(secret_spec(mlflow.url), fetch("nobody"), root=tmp_path, env=env))

        async def slow() -> None:
            async with SourceContext(tmp_path, env) as ctx:
                spec = target(registry(f"http://${{MLFLOW_HOST}}:{silent}"))
                await open_mlflow(spec.source, spec, ctx, timeout=0.2).fetch("b")

        with pytest.raises(SourceError) as caught:
            asyncio.run(slow())
        errors.append(caught.value)
    assert [str(error) for error in errors] == [
        "connection refused",
        "connection refused",
        "HTTP 503",
        "unauthorized (HTTP 401)",
        "HTTP 404 without an MLflow error (is the url an MLflow server?)",
        "no MLflow prompt named like 'nobody.%' has alias 'production'",
        "timed out after 0.2s",
    ]
    for error in errors:
        assert TOKEN not in repr(error)
