"""Session-wide fixtures: real servers on 127.0.0.1, started once per test session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.servers.nginx import Nginx, NginxUnavailable, running_nginx


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
