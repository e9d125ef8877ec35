"""The one REST helper every HTTP backend goes through: which requests retry, what comes back to
the backend, and how the rest becomes a ``SourceError`` (against in-process servers)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web

from reconciler.sources import InvalidResponse, NotFound, PermanentError, TransientError
from reconciler.sources.rest import HttpClient, HttpHealthCheck, Transport


def with_server(
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    test: Callable[[str, HttpClient], Awaitable[Any]],
) -> Any:
    """``test(base_url, client)`` against an aiohttp server answering with ``handler``."""

    async def main() -> Any:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        port = runner.addresses[0][1]
        client = HttpClient()
        try:
            return await test(f"http://127.0.0.1:{port}", client)
        finally:
            await client.close()
            await runner.cleanup()

    return asyncio.run(main())


def transport(client: HttpClient) -> Transport:
    return Transport(client, headers={}, timeout=2.0, max_body=1000)


@pytest.mark.parametrize(
    ("method", "retry", "attempts"),
    [
        ("GET", True, 3),
        ("PUT", True, 3),
        ("POST", True, 1),  # a retried POST could create twice
        ("PATCH", True, 1),
        ("DELETE", True, 1),
        ("GET", False, 1),  # health checks: the rollout's hysteresis absorbs flaps
    ],
)
def test_only_idempotent_requests_are_retried(method: str, retry: bool, attempts: int) -> None:
    seen: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(request.method)
        return web.Response(status=503, text="busy")

    async def test(base: str, client: HttpClient) -> None:
        with pytest.raises(TransientError, match=r"^HTTP 503$"):
            await transport(client).request(method, base + "/x", retry=retry)

    with_server(handler, test)
    assert seen == [method] * attempts


def test_an_explained_status_comes_back_with_its_body_and_others_raise_prefixed() -> None:
    async def handler(request: web.Request) -> web.Response:
        status = int(request.path.strip("/"))
        return web.json_response({"message": f"said {status}"}, status=status)

    async def test(base: str, client: HttpClient) -> None:
        rest = transport(client)
        answer = await rest.request("GET", base + "/409", answers=(409,))
        assert (answer.status, json.loads(answer.body)) == (409, {"message": "said 409"})
        with pytest.raises(NotFound) as caught:
            await rest.request("GET", base + "/404", answers=(409,), what="feature f")
        assert str(caught.value) == "feature f: HTTP 404"
        with pytest.raises(PermanentError, match=r"^HTTP 302: redirects are not followed"):
            await rest.request("GET", base + "/302")
        ok = await rest.request("GET", base + "/200")
        assert json.loads(ok.body) == {"message": "said 200"}

    with_server(handler, test)


def test_json_bodies_are_sent_as_json_and_big_answers_are_refused() -> None:
    received: list[tuple[str | None, Any]] = []

    async def handler(request: web.Request) -> web.Response:
        received.append((request.content_type, await request.json()))
        return web.Response(body=b"x" * 1001)

    async def test(base: str, client: HttpClient) -> None:
        rest = transport(client)
        with pytest.raises(InvalidResponse, match=r"^response larger than 1000 bytes$"):
            await rest.request("POST", base + "/create", json_body={"name": "ü"})
        await rest.request("PUT", base + "/doc", data=b'{"a": 1}', read=False)

    with_server(handler, test)
    assert received == [("application/json", {"name": "ü"}), ("application/json", {"a": 1})]


def test_a_health_check_reports_the_mapped_reason() -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=200 if request.path == "/ok" else 401)

    async def test(base: str, client: HttpClient) -> list[tuple[bool, str]]:
        results = []
        for path in ("/ok", "/private"):
            health = await HttpHealthCheck(client, base + path, headers={}, timeout=1.0)()
            results.append((health.ok, health.reason))
        return results

    assert with_server(handler, test) == [(True, ""), (False, "unauthorized (HTTP 401)")]
