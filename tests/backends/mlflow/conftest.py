"""One real MLflow server per test session; each test works on bundles of its own names."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from .server import Mlflow, MlflowUnavailable, running_mlflow

_bundles = itertools.count()


@pytest.fixture(scope="session")
def mlflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mlflow]:
    """The prompt registry: MLflow at ``mlflow.url``, seeded and inspected through ``mlflow``."""
    problem = ""
    try:
        with running_mlflow(tmp_path_factory.mktemp("mlflow")) as server:
            yield server
    except MlflowUnavailable as exc:  # fail, never skip: a missing server must not pass quietly
        problem = str(exc)
    if problem:
        pytest.fail(problem, pytrace=False)


@pytest.fixture
def bundle() -> str:
    """A bundle name no other test of the session uses (the server is shared)."""
    return f"agent-{next(_bundles)}"
