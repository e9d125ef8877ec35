"""The device fleet the audit and daemon tests share (tests/support/devicefleet.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers.exporter import Exporter
from tests.servers.prometheus import Prometheus
from tests.support.devicefleet import METRIC, Fleet


@pytest.fixture
def fleet(tmp_path: Path, exporter: Exporter, prometheus: Prometheus) -> Iterator[Fleet]:
    """A repo at v45, v46, v47 with file manifests; its telemetry removed afterwards."""
    made = Fleet(tmp_path / "config", exporter, prometheus)
    yield made
    exporter.remove(METRIC)
