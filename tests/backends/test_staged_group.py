"""Stage everywhere, then switch (design §12), end to end through the real CLI against a group of
real backends: an S3 region store (moto), an MLflow prompt registry and an Unleash flag platform
that one agent reads together. MLflow sits behind a real proxy that can refuse its writes."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.backends.mlflow.server import Mlflow
from tests.backends.s3.server import Moto
from tests.backends.test_mixed_environment import FLAGS, _env
from tests.backends.unleash.server import Unleash
from tests.servers.proxy import Proxy, running_proxy
from tests.servers.webhook import Webhook
from tests.support.cli import reconciler
from tests.support.configrepo import ConfigRepo

GROUP = "ap-south-1"


class Region:
    """One region's three parts, the repo that drives them, and how to look at each part."""

    def __init__(
        self, tmp_path: Path, bundle: str, moto: Moto, unleash: Unleash, proxy: Proxy, **extra: Any
    ) -> None:
        self.bundle = bundle
        self.unleash = unleash
        self.env = _env(moto, unleash, tmp_path)
        self.bucket = f"staged-{bundle}-{os.getpid()}"
        self.s3 = boto3.client(
            "s3",
            endpoint_url=moto.url,
            region_name="us-east-1",
            aws_access_key_id=self.env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=self.env["AWS_SECRET_ACCESS_KEY"],
        )
        self.s3.create_bucket(Bucket=self.bucket)
        self.repo = ConfigRepo(tmp_path / "config")
        targets = [
            {
                "name": "region-s3",
                "kind": "region",
                "group": GROUP,
                "source": {
                    "type": "s3",
                    "bucket": self.bucket,
                    "key": "agents/{bundle}.json",
                    "region": "us-east-1",
                    "endpoint_url": moto.url,
                },
            },
            {
                "name": "prompts",
                "kind": "prompt-registry",
                "group": GROUP,
                "source": {"type": "mlflow", "url": proxy.url},
            },
            {
                "name": "flags",
                "kind": "flag-platform",
                "group": GROUP,
                "source": {
                    "type": "unleash",
                    "url": unleash.url,
                    "environment": "production",
                    "token": "${UNLEASH_TOKEN}",
                },
            },
        ]
        inventory = {
            "environment": "production",
            "bundles": [bundle],
            "targets": targets,
            "rollout": {"waves": [{"name": "all", "targets": ["*"]}], "progress_deadline": "2m"},
            **extra,
        }
        self.repo.write("targets/production.yaml", json.dumps(inventory, indent=2))

    def release(self, prompt: str, rollout: int) -> str:
        self.repo.bundle(self.bundle, prompt=prompt)
        spec = self.repo.root / f"bundles/{self.bundle}/bundle.yaml"
        spec.write_text(spec.read_text() + FLAGS.replace("rollout: 25", f"rollout: {rollout}"))
        return self.repo.commit(f"{prompt.strip()} / rollout {rollout}")

    def cli(self, *args: str, timeout: float = 120) -> Any:
        return reconciler("--repo", self.repo.root, *args, env=self.env, timeout=timeout)

    def converge(self, limit: str = "60s") -> Any:
        return self.cli("converge", "--env", "production", "--timeout", limit)

    def audit(self) -> dict[str, Any]:
        return self.cli("audit", "--env", "production", "--format", "json").json()  # type: ignore[no-any-return]

    def served_s3(self) -> str:
        body = self.s3.get_object(Bucket=self.bucket, Key=f"agents/{self.bundle}.json")["Body"]
        return str(json.loads(body.read())["digest"])

    def served_flag(self) -> Any:
        return self.unleash.env(f"{self.bundle}.booking_v2")


@pytest.fixture
def proxied(mlflow: Mlflow) -> Iterator[Proxy]:
    with running_proxy(mlflow.url) as proxy:
        yield proxy


def _torn(report: dict[str, Any]) -> list[Any]:
    return [f for f in report["findings"] if f["code"] == "torn"]


def test_a_part_that_cannot_stage_switches_no_part_and_the_group_moves_whole_once_it_can(
    tmp_path: Path, moto: Moto, unleash: Unleash, proxied: Proxy
) -> None:
    region = Region(tmp_path, "staged-stage", moto, unleash, proxied)
    v1 = region.release("Version one: be brief.\n", 25)
    first = region.converge()
    assert first.code == 0, first.out + first.err
    before_s3, before_flag = region.served_s3(), region.served_flag()

    region.release("Version two: be briefer.\n", 50)
    during: list[tuple[str, Any]] = []
    proxied.on_refused = lambda method, path: during.append(
        (region.served_s3(), region.served_flag())
    )
    proxied.refusing(lambda method, path: method == "POST" and "model-versions/create" in path)
    refused = region.converge("4s")
    assert refused.code == 2, refused.out + refused.err
    assert "stage failed on prompts" in refused.out + refused.err
    # Looked at while MLflow refused the stage, inside the step: nothing else had switched.
    assert during and all(seen == (before_s3, before_flag) for seen in during)
    held = region.audit()
    assert _torn(held) == []
    assert {t["name"]: t["bundles"][0]["observed_revision"] for t in held["targets"]} == {
        "region-s3": v1,
        "prompts": v1,
        "flags": v1,
    }

    proxied.passing()
    done = region.converge()
    assert done.code == 0, done.out + done.err
    after = region.audit()
    assert after["summary"]["in_sync"] == 3 and _torn(after) == []
    assert region.served_s3() != before_s3
    staged = {t["name"]: t["staged"] for t in after["targets"]}
    desired = after["desired"]["bundles"][region.bundle]["digest"]
    assert after["targets"][0]["bundles"][0]["desired_digest"] in staged["region-s3"]
    assert desired  # the rendered digest names the S3 part's staged copy
    status = region.cli("rollout", "status", "--env", "production", "--format", "json").json()
    switches = status[region.bundle]["switches"]
    assert switches[0]["group"] == GROUP and switches[0]["outcome"] == "switched"
    assert 0 <= switches[0]["torn_window_seconds"] < 5


def test_a_switch_failing_after_the_others_switched_puts_them_back_and_alerts(
    tmp_path: Path, moto: Moto, unleash: Unleash, proxied: Proxy, webhook: Webhook
) -> None:
    region = Region(
        tmp_path,
        "staged-switch",
        moto,
        unleash,
        proxied,
        alerts=[{"type": "webhook", "url": webhook.url}],
    )
    region.release("Version one: be brief.\n", 25)
    assert region.converge().code == 0
    before_s3, before_flag = region.served_s3(), region.served_flag()

    region.release("Version two: be briefer.\n", 50)
    # The stage (a new prompt version) passes; the switch (moving the alias) is refused.
    proxied.refusing(lambda method, path: method == "POST" and "registered-models/alias" in path)
    reverted = region.converge("4s")
    assert reverted.code == 2, reverted.out + reverted.err
    assert len([r for r in proxied.refused if "alias" in r[1]]) >= 3  # retried before giving up
    assert (region.served_s3(), region.served_flag()) == (before_s3, before_flag)
    assert _torn(region.audit()) == []
    status = region.cli("rollout", "status", "--env", "production", "--format", "json").json()
    kinds = {c["type"]: c for c in status[region.bundle]["conditions"]}
    assert "SwitchReverted" in kinds, kinds
    assert "switch failed on prompts" in kinds["SwitchReverted"]["message"]
    alerts = [a for a in webhook.alerts() if a.get("condition") == "switch_reverted"]
    assert alerts and GROUP in alerts[0]["text"]

    proxied.passing()
    done = region.converge()
    assert done.code == 0, done.out + done.err
    report = region.audit()
    assert report["summary"]["in_sync"] == 3 and _torn(report) == []
