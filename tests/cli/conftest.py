"""A demo-like fleet for end-to-end tests: a real git repo, file targets, nginx HTTP targets."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from reconciler.demo.fleet import build_repo, place_fleet
from tests.servers.nginx import Nginx

NOW = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)
ENV = {"RECONCILER_NOW": NOW.isoformat(), "RECONCILER_DEMO_TOKEN": "test-token"}


@dataclass
class Fleet:
    root: Path
    shas: dict[str, str]
    base_url: str

    def doc(self, target: str) -> Path:
        http = self.root / "fleet" / "http" / target / "support-agent.json"
        return http if http.exists() else self.root / "fleet" / target / "support-agent.json"


@pytest.fixture
def fleet(tmp_path: Path, nginx: Nginx) -> Fleet:
    root = tmp_path / "config"
    shas = build_repo(root, NOW, port=1)
    place_fleet(root, shas)
    base = nginx.serve(root / "fleet" / "http")
    inventory = root / "targets" / "production.yaml"
    text = re.sub(r"http://127\.0\.0\.1:1/", base, inventory.read_text())
    inventory.write_text(text)
    return Fleet(root, shas, base)
