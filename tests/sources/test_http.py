"""The ``http`` source against a real nginx: status mapping, retries, caps, PUT, secrets."""

from __future__ import annotations

import asyncio
import gzip
import os
import time
from pathlib import Path

import pytest

from reconciler.errors import ConfigError
from reconciler.sources import (
    Health,
    NotFound,
    PermanentError,
    Source,
    SourceContext,
    SourceError,
    TransientError,
    Unauthorized,
    open_source,
)
from reconciler.sources.interface import TooLarge
from tests.servers.nginx import PRIVATE_AUTHORIZATION, Nginx

from .support import apply, closed_port, failure, fetch, run, silent_port, target

TOKEN = PRIVATE_AUTHORIZATION.removeprefix("Bearer ")


def http(url: str, **source: object) -> dict[str, object]:
    return {"type": "http", "url": url, **source}


def publish(nginx: Nginx, path: str, body: bytes) -> None:
    file = nginx.root / path
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_bytes(body)


async def health(source: Source) -> Health:
    return await source.health()


def test_fetch_returns_the_raw_bytes(nginx: Nginx, tmp_path: Path) -> None:
    body = os.urandom(20_000)  # raw bytes: nothing decodes or parses them
    publish(nginx, "agents/fetch-ok.json", body)
    spec = target(http(nginx.url("agents/{bundle}.json")))
    assert run(spec, fetch("fetch-ok"), root=tmp_path) == body


def test_404_is_not_found(nginx: Nginx, tmp_path: Path) -> None:
    error = failure(target(http(nginx.url("agents/{bundle}.json"))), fetch("nope"), root=tmp_path)
    assert type(error) is NotFound
    assert str(error) == "HTTP 404"


def test_401_is_unauthorized(nginx: Nginx, tmp_path: Path) -> None:
    publish(nginx, "private/a.json", b"{}")
    error = failure(target(http(nginx.url("private/{bundle}.json"))), fetch("a"), root=tmp_path)
    assert type(error) is Unauthorized
    assert str(error) == "unauthorized (HTTP 401)"


def test_redirect_is_not_followed(nginx: Nginx, tmp_path: Path) -> None:
    (nginx.root / "a-folder").mkdir(exist_ok=True)  # nginx redirects /a-folder to /a-folder/
    error = failure(target(http(nginx.url("{bundle}"))), fetch("a-folder"), root=tmp_path)
    assert type(error) is PermanentError
    assert str(error).startswith("HTTP 301")


def test_503_is_transient_after_three_attempts(nginx: Nginx, tmp_path: Path) -> None:
    log = nginx.prefix / "unavailable.log"
    before = log.read_text().count("\n") if log.exists() else 0
    spec = target(http(nginx.url("unavailable/{bundle}.json")))
    error = failure(spec, fetch("b"), root=tmp_path)
    assert type(error) is TransientError
    assert str(error) == "HTTP 503"
    # nginx logs a request after answering it: give the last line a moment to land.
    deadline = time.monotonic() + 2
    while log.read_text().count("\n") - before < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert log.read_text().count("\n") - before == 3


def test_connection_refused_is_transient(tmp_path: Path) -> None:
    with closed_port() as port:
        spec = target(http(f"http://127.0.0.1:{port}/{{bundle}}.json"))
        error = failure(spec, fetch("b"), root=tmp_path)
    assert type(error) is TransientError
    assert str(error) == "connection refused"


def test_silent_server_times_out_after_bounded_retries(tmp_path: Path) -> None:
    with silent_port() as port:
        spec = target(http(f"http://127.0.0.1:{port}/{{bundle}}.json", timeout="0.3s"))
        started = time.monotonic()
        error = failure(spec, fetch("b"), root=tmp_path)
        elapsed = time.monotonic() - started
    assert type(error) is TransientError
    assert str(error) == "timed out after 0.3s"
    assert 3 * 0.3 + 0.2 + 0.4 <= elapsed < 3.0  # three attempts, two backoffs, nothing more


def test_oversized_body_by_content_length(nginx: Nginx, tmp_path: Path) -> None:
    publish(nginx, "agents/at-cap.json", b"x" * 1000)
    publish(nginx, "agents/over-cap.json", b"x" * 1001)
    spec = target(http(nginx.url("agents/{bundle}.json")))
    assert run(spec, fetch("at-cap"), root=tmp_path, max_body=1000) == b"x" * 1000
    error = failure(spec, fetch("over-cap"), root=tmp_path, max_body=1000)
    assert type(error) is TooLarge  # an InvalidResponse: it answered, too much
    assert str(error) == "response larger than 1000 bytes"


def test_oversized_body_without_content_length_is_counted_while_read(
    nginx: Nginx, tmp_path: Path
) -> None:
    # gzip: nginx answers chunked, and 5000 bytes of "x" shrink to a few dozen on the wire.
    publish(nginx, "gzip/small.json", b"x" * 1000)
    publish(nginx, "gzip/big.json", b"x" * 5000)
    assert len(gzip.compress(b"x" * 5000)) < 1000
    spec = target(http(nginx.url("gzip/{bundle}.json")))
    assert run(spec, fetch("small"), root=tmp_path, max_body=1000) == b"x" * 1000
    error = failure(spec, fetch("big"), root=tmp_path, max_body=1000)
    assert type(error) is TooLarge  # an InvalidResponse: it answered, too much


def test_put_apply_then_fetch_returns_the_new_bytes(nginx: Nginx, tmp_path: Path) -> None:
    spec = target(http(nginx.url("applied/pop-a/{bundle}.json")))
    for document in (b'{"revision": 1}', b'{"revision": 2, "longer": true}'):
        run(spec, apply("support-agent", document), root=tmp_path)
        assert run(spec, fetch("support-agent"), root=tmp_path) == document
    assert (nginx.root / "applied/pop-a/support-agent.json").read_bytes().startswith(b'{"rev')


def test_header_auth_with_an_expanded_variable(nginx: Nginx, tmp_path: Path) -> None:
    publish(nginx, "private/agent.json", b'{"ok": true}')
    spec = target(
        http(nginx.url("private/{bundle}.json"), headers={"Authorization": "Bearer ${POP_TOKEN}"})
    )
    assert run(spec, fetch("agent"), root=tmp_path, env={"POP_TOKEN": TOKEN}) == b'{"ok": true}'


def test_missing_variable_is_a_config_error_naming_target_and_variable(
    nginx: Nginx, tmp_path: Path
) -> None:
    spec = target(
        http(nginx.url("private/{bundle}.json"), headers={"Authorization": "Bearer ${POP_TOKEN}"}),
        name="pop-sin",
    )
    with pytest.raises(ConfigError) as caught:
        run(spec, fetch("agent"), root=tmp_path, env={})
    assert str(caught.value) == "target pop-sin: environment variable POP_TOKEN is not set"


SECRET = "hunter2-e8d1f0a7"


@pytest.mark.parametrize("case", ["unauthorized", "refused", "timeout", "not found"])
def test_secrets_never_appear_in_errors_or_reprs(nginx: Nginx, tmp_path: Path, case: str) -> None:
    env = {"SECRET": SECRET}
    headers = {"Authorization": "Bearer ${SECRET}", "X-Api-Key": "${SECRET}"}
    with closed_port() as refused, silent_port() as silent:
        base = {
            "unauthorized": nginx.url("private/"),
            "refused": f"http://127.0.0.1:{refused}/",
            "timeout": f"http://127.0.0.1:{silent}/",
            "not found": nginx.url("nowhere/"),
        }[case]
        spec = target(
            http(base + "{bundle}.json?key=${SECRET}", headers=headers, timeout="0.2s"),
            health={"url": base + "healthz?key=${SECRET}", "headers": headers, "timeout": "0.2s"},
        )

        async def everything(source: Source) -> list[object]:
            seen: list[object] = [source, await source.health()]
            for operation in (lambda: source.fetch("b"), lambda: source.apply("b", b"{}")):
                try:
                    await operation()
                except SourceError as exc:
                    seen.append(exc)
                    # Tracebacks must not show aiohttp's exception, which quotes the URL.
                    assert exc.__cause__ is None
                    assert exc.__context__ is None or exc.__suppress_context__
            return seen

        seen = run(spec, everything, root=tmp_path, env=env)
    assert len(seen) >= 3  # the source, its health, the fetch error (PUT may succeed)
    for thing in seen:
        assert SECRET not in str(thing) and SECRET not in repr(thing)


def test_health(nginx: Nginx, tmp_path: Path) -> None:
    url = nginx.url("agents/{bundle}.json")
    without = target(http(url))
    healthy = target(http(url), health={"url": nginx.url("healthz")})
    failing = target(http(url), health={"url": nginx.url("unavailable/healthz")})
    assert run(without, health, root=tmp_path) == Health(ok=True)
    assert run(healthy, health, root=tmp_path) == Health(ok=True)
    assert run(failing, health, root=tmp_path) == Health(False, "HTTP 503")
    with closed_port() as port:
        refused = target(http(url), health={"url": f"http://127.0.0.1:{port}/healthz"})
        assert run(refused, health, root=tmp_path) == Health(False, "connection refused")


def test_bad_urls_are_config_errors(tmp_path: Path) -> None:
    for spec in (
        target(http("http://${HOST}/{bundle}.json")),  # HOST expands to nothing usable
        target(http("http://h/{bundle}"), health={"url": "ftp://h/healthz"}),
    ):
        with pytest.raises(ConfigError, match="target pop-a"):
            run(spec, fetch("b"), root=tmp_path, env={"HOST": ""})


def test_many_targets_share_one_bounded_session(nginx: Nginx, tmp_path: Path) -> None:
    publish(nginx, "shared/agent.json", b"{}")
    specs = [target(http(nginx.url("shared/{bundle}.json")), name=f"t{i}") for i in range(600)]

    async def main() -> list[bytes]:
        async with SourceContext(tmp_path, {}, connection_limit=16) as ctx:
            sources = [open_source(spec, ctx) for spec in specs]
            bodies = await asyncio.gather(*(source.fetch("agent") for source in sources))
            connector = ctx.http.session.connector
            assert connector is not None and connector.limit == 16
            return bodies

    assert asyncio.run(main()) == [b"{}"] * 600


def test_slow_url_serves_the_same_document_after_the_added_latency(
    nginx: Nginx, tmp_path: Path
) -> None:
    publish(nginx, "agents/slow.json", b'{"slow": true}')
    spec = target(http(nginx.slow_url("agents/{bundle}.json")))
    started = time.monotonic()
    assert run(spec, fetch("slow"), root=tmp_path) == b'{"slow": true}'
    assert time.monotonic() - started >= nginx.latency_ms / 1000
