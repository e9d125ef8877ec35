"""Shared fixtures: real servers on 127.0.0.1 (nginx once per session, a webhook per test)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers.nginx import Nginx, NginxUnavailable, running_nginx
from tests.servers.webhook import Webhook, running_webhook


@pytest.fixture(scope="session")
def nginx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nginx]:
    """A CDN POP: nginx serving ``nginx.root`` at ``nginx.url(path)``, accepting PUTs."""
    problem = ""
    try:
        with running_nginx(tmp_path_factory.mktemp("nginx")) as server:
            yield server
    except NginxUnavailable as exc:  # fail, never skip: a missing server must not pass quietly
        problem = str(exc)
    if problem:
        pytest.fail(problem, pytrace=False)


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
