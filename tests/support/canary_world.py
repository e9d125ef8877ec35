"""A config repo, a fleet and a serving side for traffic-canary tests (design §12.1): a file
store whose staged copies the agent loads, an Unleash target carrying the bundle's flag and the
release flag, the real Prometheus as the judge's provider, and a ``Driver`` stepped on a clock
the test moves (wall time plus a skew the test adds to jump past a deadline)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler.client import ReleaseClient
from reconciler.model.rollout import Rollout
from reconciler.rollout.driver import Driver
from reconciler.rollout.step import Step
from reconciler.state import open_store
from tests.backends.unleash.server import Unleash
from tests.support.configrepo import ConfigRepo
from tests.support.release import release_client

FLAGS = "flags:\n  fast_path: {enabled: true, rollout: 100}\n"


def counts(metric: str, run: str, by: str) -> str:
    """The increase of ``metric`` over each interval, exactly: the counter at the end of the
    interval minus the counter at its start (no extrapolation, the intervals tile)."""
    series = f'{metric}{{run="{run}", bundle="{{bundle}}"}}'
    return f"sum by ({by}) ({series} - {series} offset {{interval}})"


def canary_spec(run: str, *, by: str | None = "segment", **judge: Any) -> dict[str, Any]:
    """``rollout.canary`` on the target ``flags``: refusals per digest (and segment)."""
    keep = "digest, segment" if by else "digest"
    metric = {
        "name": "refusal-rate",
        "test": "proportion",
        "numerator": counts("agent_refusals_total", run, keep),
        "denominator": counts("agent_requests_total", run, keep),
        "tolerance": judge.pop("tolerance", "5%"),
    }
    spec: dict[str, Any] = {
        "release_flag": {"target": "flags", "name": "{bundle}.release"},
        "steps": judge.pop("steps", ["1%", "5%", "25%"]),
        "bake": judge.pop("bake", "5s"),
        "judge": {"interval": "1s", "min_samples": 30, "metrics": [metric], **judge},
    }
    if by:
        spec["judge"]["by"] = by
    return spec


@dataclass
class World:
    """One bundle's fleet and its canary, driven step by step."""

    repo: ConfigRepo
    bundle: str
    unleash: Unleash
    prometheus_url: str
    skew: float = 0.0
    driver: Driver | None = None
    digests: dict[str, str] = field(default_factory=dict)  #: commit message -> bundle digest

    @property
    def store_path(self) -> Path:
        return self.repo.root / "fleet" / "store" / f"{self.bundle}.json"

    def clock(self) -> float:
        return time.time() + self.skew

    def write_inventory(self, canary: dict[str, Any], progress_deadline: str = "10m") -> None:
        targets = [
            {
                "name": "store",
                "kind": "region",
                "source": {"type": "file", "path": "fleet/store/{bundle}.json"},
            },
            {
                "name": "flags",
                "kind": "flag-platform",
                "carries": ["flag/*"],
                "source": {
                    "type": "unleash",
                    "url": self.unleash.url,
                    "environment": "production",
                    "token": "${UNLEASH_TOKEN}",
                },
            },
        ]
        doc = {
            "environment": "production",
            "bundles": [self.bundle],
            "targets": targets,
            "rollout": {"progress_deadline": progress_deadline, "canary": canary},
            "analysis": {"prometheus": {"url": self.prometheus_url}},
        }
        self.repo.write("targets/production.yaml", json.dumps(doc, indent=2) + "\n")

    def commit(self, message: str, prompt: str) -> None:
        self.repo.bundle(self.bundle, prompt=prompt)
        path = self.repo.root / "bundles" / self.bundle / "bundle.yaml"
        path.write_text(path.read_text() + FLAGS)
        self.repo.commit(message)
        self.restart()

    def restart(self) -> Driver:
        """A new driver on the same state store: a daemon killed and started again."""
        if self.driver is not None:
            self.driver.store.close()
        env = {"UNLEASH_TOKEN": self.unleash.token}
        store = open_store(self.repo.root)
        self.driver = Driver(self.repo.root, "production", store, environ=env, clock=self.clock)
        return self.driver

    def step(self) -> Step:
        assert self.driver is not None
        return self.driver.step()

    def rollout(self) -> Rollout:
        assert self.driver is not None
        found = self.driver.store.load_rollout("production", self.bundle)
        assert found is not None
        return found

    def until(self, done: Callable[[Step], bool], timeout: float = 40.0) -> Step:
        """Step (every ~0.2 s) until ``done(step)``; the servers move in wall time."""
        deadline = time.monotonic() + timeout
        while True:
            step = self.step()
            if done(step):
                return step
            assert time.monotonic() < deadline, (step.bundles, self.rollout().canary)
            time.sleep(0.2)

    def release(self) -> dict[str, Any]:
        """The release flag's variants as Unleash holds them: name -> (weight, digest)."""
        env = self.unleash.env(f"{self.bundle}.release")
        (strategy,) = env["strategies"]
        assert strategy["parameters"]["groupId"] == f"{self.bundle}.release"
        assert env["enabled"]
        return {
            v["name"]: (v["weight"], json.loads(v["payload"]["value"])["digest"])
            for v in strategy["variants"]
        }

    def writes(self) -> int:
        """Writes Unleash logged for the release flag."""
        return self.unleash.events(f"{self.bundle}.release")

    def client(self, token: str, cache: Path) -> ReleaseClient:
        """A release client loading the staged copies of the file store."""
        staged = f"file://{self.store_path}.staged/{{digest_hex}}.json"
        return release_client(self.bundle, self.unleash, token, staged, cache)
