"""The backend servers, one of each per test session, shared by every backend test folder
(each folder's own tests and the mixed-environment tests). A missing server fails, never skips."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import TypeVar

import pytest

from tests.servers.postgres import Postgres

from .mlflow.server import Mlflow, MlflowUnavailable, running_mlflow
from .s3.server import Moto, MotoUnavailable, running_moto
from .unleash.server import Unleash, UnleashUnavailable, running_unleash

T = TypeVar("T")


def serve(start: Callable[[], AbstractContextManager[T]], missing: type[Exception]) -> Iterator[T]:
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
def mlflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mlflow]:
    """The prompt registry: MLflow at ``mlflow.url``, seeded and inspected through ``mlflow``."""
    yield from serve(lambda: running_mlflow(tmp_path_factory.mktemp("mlflow")), MlflowUnavailable)


@pytest.fixture(scope="session")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Moto]:
    """The S3 API at ``moto.url``; accepts any credentials."""
    yield from serve(lambda: running_moto(tmp_path_factory.mktemp("moto")), MotoUnavailable)


@pytest.fixture(scope="session")
def unleash(postgres: Postgres) -> Iterator[Unleash]:
    """The flag platform: Unleash at ``unleash.url``, seeded and inspected through ``unleash``;
    its database is a new one in the session's PostgreSQL cluster."""
    yield from serve(lambda: running_unleash(postgres), UnleashUnavailable)


@pytest.fixture(autouse=True)
def _unleash_stays_up(request: pytest.FixtureRequest) -> Iterator[None]:
    """A crash of the shared Unleash fails the test it happened in, with the server's own log,
    and the server is restarted (same database, same port) so the tests after it still run."""
    if "unleash" not in request.fixturenames:
        yield
        return
    server: Unleash = request.getfixturevalue("unleash")
    server.check_alive()
    yield
    crashed = server.check_alive()
    if crashed:
        pytest.fail(f"the Unleash server died during this test: {crashed}", pytrace=False)
