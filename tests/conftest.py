"""Shared fixtures: real servers on 127.0.0.1 (nginx, PostgreSQL, Prometheus and its exporter,
headless Chromium once per session, each started only when a test first asks for it; a webhook
per test). A server that cannot start fails the tests that need it, never skips them."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import pytest

from tests.servers.browser import BrowserUnavailable, running_browser
from tests.servers.exporter import Exporter, running_exporter
from tests.servers.nginx import Nginx, NginxUnavailable, running_nginx
from tests.servers.postgres import Postgres, PostgresUnavailable, running_postgres
from tests.servers.prometheus import Prometheus, PrometheusUnavailable, running_prometheus
from tests.servers.webhook import Webhook, running_webhook

if TYPE_CHECKING:
    from selenium.webdriver import Chrome

T = TypeVar("T")


def _serve(start: Callable[[], AbstractContextManager[T]], missing: type[Exception]) -> Iterator[T]:
    """Yield the started server; a server that cannot start fails the tests that need it."""
    problem = ""
    try:
        with start() as server:
            yield server
    except missing as exc:
        problem = str(exc)
    if problem:
        pytest.fail(problem, pytrace=False)


@pytest.fixture(scope="session")
def nginx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nginx]:
    """A CDN POP: nginx serving ``nginx.root`` at ``nginx.url(path)``, accepting PUTs."""
    yield from _serve(lambda: running_nginx(tmp_path_factory.mktemp("nginx")), NginxUnavailable)


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    """A chat webhook on 127.0.0.1: POST to ``webhook.url``; ``wait_for(n)`` returns the bodies."""
    with running_webhook() as server:
        yield server


@pytest.fixture(scope="session")
def promtool() -> Path:
    """Prometheus's own linter for the exposition format (Debian's prometheus package)."""
    found = shutil.which("promtool")
    if found is None:  # fail, never skip: the /metrics contract must not go unchecked
        pytest.fail(
            "promtool is missing: install Debian's prometheus package (tests/servers/install.sh)",
            pytrace=False,
        )
    return Path(found)


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """The session's PostgreSQL 15 cluster on 127.0.0.1; take a database of your own with
    ``postgres.create_database(name)`` (its URL). Never stop this one: a test that stops
    PostgreSQL starts its own cluster with ``running_postgres()``."""
    yield from _serve(running_postgres, PostgresUnavailable)


@pytest.fixture(scope="session")
def exporter() -> Iterator[Exporter]:
    """The session's /metrics endpoint, scraped by ``prometheus``: tests set gauges with
    ``exporter.set(name, labels, value)``, under label values of their own."""
    with running_exporter() as server:
        yield server


@pytest.fixture(scope="session")
def prometheus(exporter: Exporter) -> Iterator[Prometheus]:
    """The session's Prometheus, scraping ``exporter`` every second (ready once it has scraped
    it: ~5.5 s, once per session). ``prometheus.query(promql)``, ``prometheus.wait_for(...)``;
    ``add_target``/``remove_target`` for another scrape target (~5-10 s each)."""
    yield from _serve(lambda: running_prometheus([exporter.target]), PrometheusUnavailable)


@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chrome]:
    """The session's headless Chromium (Selenium ``webdriver.Chrome``). Pages and cookies stay
    between tests; ``console_errors(browser)`` (tests/servers/browser.py) drains the console."""
    log = tmp_path_factory.mktemp("browser") / "chromedriver.log"
    yield from _serve(lambda: running_browser(log), BrowserUnavailable)
