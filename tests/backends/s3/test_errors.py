"""Failures of the s3 source: down, slow, error pages, refused credentials, bad settings.

Every reason is one line and quotes neither credentials nor the endpoint.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.errors import ConfigError
from reconciler.model.document import InvalidDocument, parse
from reconciler.sources import (
    PermanentError,
    SourceError,
    TransientError,
    Unauthorized,
)
from reconciler.sources import s3 as s3_source
from tests.sources.support import closed_port, silent_port

from .conftest import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY, Store
from .server import ErrorPage, Moto
from .support import Open, outcome, rendered, within

HTML = b"<html><body><h1>502 Bad Gateway</h1></body></html>"


def spec(endpoint_url: str, **more: str) -> dict[str, str]:
    return {"type": "s3", "bucket": "agents", "key": "{bundle}.json", "region": REGION,
            "endpoint_url": endpoint_url, **more}  # fmt: skip


def failures(spec: dict[str, str], tmp_path: Path, env: dict[str, str] | None = None) -> list:
    """What fetch and apply raise (each must raise a SourceError)."""

    async def scenario(open_: Open) -> list[object]:
        return [
            await outcome(open_().fetch("support-agent")),
            await outcome(open_().apply("support-agent", rendered().to_bytes())),
        ]

    found = within(spec, scenario, root=tmp_path, env=env)
    for error in found:
        assert isinstance(error, SourceError), error
        assert_secret_free(error)
    return found


def assert_secret_free(error: BaseException, *secrets: str) -> None:
    text = f"{error} {error!r}"
    assert "\n" not in str(error)
    for secret in (ACCESS_KEY_ID, SECRET_ACCESS_KEY, "127.0.0.1", *secrets):
        assert secret not in text


@pytest.fixture
def page() -> Iterator[ErrorPage]:
    server = ErrorPage(502, HTML)
    yield server
    server.close()


def test_connection_refused_is_transient(tmp_path: Path) -> None:
    with closed_port() as port:
        errors = failures(spec(f"http://127.0.0.1:{port}"), tmp_path)
    assert [type(e) for e in errors] == [TransientError, TransientError]
    assert [str(e) for e in errors] == ["could not connect to the S3 endpoint"] * 2


def test_a_slow_endpoint_times_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(s3_source, "TIMEOUT", 0.3)
    monkeypatch.setattr(s3_source, "MAX_ATTEMPTS", 1)
    started = time.monotonic()
    with silent_port() as port:
        errors = failures(spec(f"http://127.0.0.1:{port}"), tmp_path)
    assert [str(e) for e in errors] == ["timed out after 0.3s"] * 2
    assert all(e.transient for e in errors)
    assert time.monotonic() - started < 5


def test_default_timeouts_and_retries_are_bounded() -> None:
    client = s3_source.client_for("http://127.0.0.1:9", REGION)
    config = client.meta.config
    assert (config.connect_timeout, config.read_timeout) == (5.0, 5.0)
    assert config.retries == {"mode": "standard", "total_max_attempts": 3}
    assert client is s3_source.client_for("http://127.0.0.1:9", REGION)  # shared


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_an_error_page_is_unreachable_after_retries(
    status: int, page: ErrorPage, tmp_path: Path
) -> None:
    page.status = status
    errors = failures(spec(page.url), tmp_path)
    assert [str(e) for e in errors] == [f"S3 error (HTTP {status})"] * 2
    assert all(type(e) is TransientError for e in errors)
    assert page.requests == 2 * s3_source.MAX_ATTEMPTS  # GET; apply's HEAD fails before a PUT


def test_an_error_page_on_the_write_itself(page: ErrorPage, tmp_path: Path) -> None:
    async def scenario(open_: Open) -> object:
        source = open_()
        page.status = 404
        assert await outcome(source.fetch("support-agent")) is not None  # absent: no HEAD next
        page.status = 503
        return await outcome(source.apply("support-agent", rendered().to_bytes()))

    error = within(spec(page.url), scenario, root=tmp_path)
    assert type(error) is TransientError
    assert str(error) == "S3 error (HTTP 503)"
    assert page.requests == 1 + s3_source.MAX_ATTEMPTS


def test_a_proxy_refusing_us_is_unauthorized(page: ErrorPage, tmp_path: Path) -> None:
    page.status = 403
    errors = failures(spec(page.url), tmp_path)
    assert [str(e) for e in errors] == ["unauthorized (HTTP 403)"] * 2
    assert all(type(e) is Unauthorized for e in errors)


def test_an_html_page_with_200_is_fetched_and_judged_invalid(
    page: ErrorPage, tmp_path: Path
) -> None:
    page.status = 200  # a captive portal: the source returns bytes, the observation judges them

    async def scenario(open_: Open) -> bytes:
        return await open_().fetch("support-agent")

    body = within(spec(page.url), scenario, root=tmp_path)
    with pytest.raises(InvalidDocument, match="not JSON"):
        parse(body)


@pytest.mark.usefixtures("fresh_clients")
def test_refused_credentials_are_unauthorized(moto_checking: Moto, tmp_path: Path) -> None:
    errors = failures(spec(moto_checking.url), tmp_path)
    assert [type(e) for e in errors] == [Unauthorized, Unauthorized]
    assert str(errors[0]) == "unauthorized (InvalidAccessKeyId, HTTP 403)"


@pytest.mark.usefixtures("fresh_clients")
def test_no_credentials_at_all_is_unauthorized(
    moto: Moto, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    errors = failures(spec(moto.url), tmp_path)
    assert [str(e) for e in errors] == ["unauthorized: no AWS credentials found"] * 2


def test_settings_from_variables_are_not_quoted(store: Store, tmp_path: Path) -> None:
    env = {"S3_ENDPOINT": store.moto.url, "SECRET_BUCKET": "hidden-bucket-7c1"}
    found = failures(spec("${S3_ENDPOINT}", bucket="${SECRET_BUCKET}"), tmp_path, env=env)
    assert type(found[0]) is PermanentError
    assert str(found[0]) == "bucket ${SECRET_BUCKET} does not exist"
    for error in found:
        assert_secret_free(error, "hidden-bucket-7c1", store.moto.url)


@pytest.mark.parametrize(
    ("more", "message"),
    [
        ({"bucket": "no/slash"}, "is not a valid S3 bucket name"),
        ({"bucket": "${UNSET_BUCKET}"}, "environment variable UNSET_BUCKET is not set"),
        ({"endpoint_url": "ftp://127.0.0.1"}, "is not an http(s) URL"),
        ({"endpoint_url": "http://127.0.0.1:port"}, "is not an http(s) URL"),
        ({"key": "{bundle}"}, None),
        ({"key": ""}, "the S3 key is empty"),
    ],
)
def test_settings_are_checked_before_any_request(
    more: dict[str, str], message: str | None, tmp_path: Path
) -> None:
    async def scenario(open_: Open) -> None:
        open_()

    settings = {**spec("http://127.0.0.1:9"), **more}
    if message is None:
        within(settings, scenario, root=tmp_path)
        return
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        within(settings, scenario, root=tmp_path)
