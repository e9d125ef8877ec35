"""One environment that mixes all five source types, end to end through the real CLI: audit,
converge, and an audit that finds every target in sync by re-fetching; then the same kinds of
backends down, slow or answering error pages, each reported with its reason."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import boto3

from tests.backends.mlflow.server import Mlflow
from tests.backends.s3.server import Moto
from tests.backends.unleash.server import Unleash
from tests.servers.nginx import Nginx
from tests.sources.support import closed_port, silent_port
from tests.support.cli import reconciler
from tests.support.configrepo import ConfigRepo

BUNDLE = "mixed-agent"
FLAGS = """\
flags:
  booking_v2: {enabled: true, rollout: 25, variants: {control: 50, treatment: 50}}
  summaries: {enabled: false}
"""


def _env(moto: Moto, unleash: Unleash, tmp_path: Path) -> dict[str, str]:
    return {
        "AWS_ACCESS_KEY_ID": "AKIATESTINGREC0NC1LE",
        "AWS_SECRET_ACCESS_KEY": "testing-secret-9f8e7d6c5b4a",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "UNLEASH_TOKEN": unleash.token,
    }


def _write(repo: ConfigRepo, env_name: str, targets: list[dict[str, Any]]) -> None:
    doc = {
        "environment": env_name,
        "bundles": [BUNDLE],
        "targets": targets,
        "rollout": {
            "waves": [
                {"name": "registries", "targets": ["prompts", "flags"]},
                {"name": "rest", "targets": ["*"]},
            ],
            "progress_deadline": "2m",
        },
    }
    repo.write(f"targets/{env_name}.yaml", json.dumps(doc, indent=2))


def test_audit_and_converge_across_all_five_sources(
    tmp_path: Path, nginx: Nginx, moto: Moto, mlflow: Mlflow, unleash: Unleash
) -> None:
    env = _env(moto, unleash, tmp_path)
    bucket = f"mixed-{os.getpid()}"
    s3 = boto3.client(
        "s3",
        endpoint_url=moto.url,
        region_name="us-east-1",
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )
    s3.create_bucket(Bucket=bucket)
    served = tmp_path / "served"
    served.mkdir()
    base = nginx.serve(served)
    repo = ConfigRepo(tmp_path / "config")
    repo.bundle(BUNDLE, prompt="Hello {{customer}}, how can I help?\n")
    spec = repo.root / f"bundles/{BUNDLE}/bundle.yaml"
    spec.write_text(spec.read_text() + FLAGS)
    (repo.root / "fleet" / "edge").mkdir(parents=True)
    repo.write(".gitignore", "fleet/\n")
    _write(
        repo,
        "production",
        [
            {
                "name": "edge",
                "kind": "pop",
                "carries": ["prompt/*"],
                "source": {"type": "file", "path": "fleet/edge/{bundle}.json"},
            },
            {
                "name": "pop-http",
                "kind": "pop",
                "source": {"type": "http", "url": base + "{bundle}.json"},
            },
            {
                "name": "region-s3",
                "kind": "region",
                "source": {
                    "type": "s3",
                    "bucket": bucket,
                    "key": "agents/{bundle}.json",
                    "region": "us-east-1",
                    "endpoint_url": moto.url,
                },
            },
            {
                "name": "prompts",
                "kind": "prompt-registry",
                "source": {"type": "mlflow", "url": mlflow.url},
            },
            {
                "name": "flags",
                "kind": "flag-platform",
                "source": {
                    "type": "unleash",
                    "url": unleash.url,
                    "environment": "production",
                    "token": "${UNLEASH_TOKEN}",
                },
            },
        ],
    )
    repo.commit("mixed v1")
    assert reconciler("--repo", repo.root, "validate", env=env).code == 0

    before = reconciler(
        "--repo", repo.root, "audit", "--env", "production", "--format", "json", env=env
    )
    assert before.code == 2, before.err
    assert {t["name"]: t["status"] for t in before.json()["targets"]} == {
        "edge": "missing",
        "pop-http": "missing",
        "region-s3": "missing",
        "prompts": "missing",
        "flags": "missing",
    }
    converge = reconciler(
        "--repo",
        repo.root,
        "converge",
        "--env",
        "production",
        "--timeout",
        "60s",
        env=env,
        timeout=120,
    )
    assert converge.code == 0, converge.out + converge.err
    after = reconciler(
        "--repo", repo.root, "audit", "--env", "production", "--format", "json", env=env
    )
    assert after.code == 0, after.out
    report = after.json()
    assert report["summary"]["in_sync"] == 5
    digests = {t["name"]: t["bundles"][0]["observed_digest"] for t in report["targets"]}
    desired = {t["name"]: t["bundles"][0]["desired_digest"] for t in report["targets"]}
    assert digests == desired
    # The stamps (provenance) are there too, though classification never reads them.
    head = s3.head_object(Bucket=bucket, Key=f"agents/{BUNDLE}.json")["Metadata"]
    assert head["revision"] == report["desired"]["revision"]


def test_one_backend_down_slow_or_lying_never_stops_the_audit(
    tmp_path: Path, nginx: Nginx, moto: Moto, unleash: Unleash
) -> None:
    env = _env(moto, unleash, tmp_path)
    repo = ConfigRepo(tmp_path / "config")
    repo.bundle(BUNDLE)
    (repo.root / "fleet" / "edge").mkdir(parents=True)
    repo.commit("v1")
    done = reconciler("--repo", repo.root, "render", BUNDLE).out
    (repo.root / "fleet" / "edge" / f"{BUNDLE}.json").write_text(done)
    with closed_port() as refused, silent_port() as silent:
        _write(
            repo,
            "production",
            [
                {
                    "name": "edge",
                    "kind": "pop",
                    "source": {"type": "file", "path": "fleet/edge/{bundle}.json"},
                },
                {
                    "name": "prompts",
                    "kind": "prompt-registry",
                    "source": {"type": "mlflow", "url": f"http://127.0.0.1:{refused}"},
                },
                {
                    "name": "flags",
                    "kind": "flag-platform",
                    "source": {
                        "type": "unleash",
                        "url": f"http://127.0.0.1:{silent}",
                        "environment": "production",
                        "token": "${UNLEASH_TOKEN}",
                    },
                },
                {
                    "name": "region-s3",
                    "kind": "region",
                    "source": {
                        "type": "s3",
                        "bucket": "agents",
                        "key": "{bundle}.json",
                        "endpoint_url": nginx.url("unavailable/"),
                    },
                },
                {
                    "name": "pop-html",
                    "kind": "pop",
                    "source": {"type": "http", "url": nginx.url("unavailable/x.json")},
                },
            ],
        )
        run = reconciler(
            "--repo",
            repo.root,
            "audit",
            "--env",
            "production",
            "--format",
            "json",
            env=env,
            timeout=180,
        )
    assert run.code == 2, run.err
    got = {t["name"]: (t["status"], t["error"] or "") for t in run.json()["targets"]}
    assert got["edge"][0] == "in_sync"
    for name in ("prompts", "flags", "region-s3", "pop-html"):
        assert got[name][0] in ("unreachable", "invalid"), got
        assert got[name][1], got  # a reason, always
    assert "refused" in got["prompts"][1]
    assert "timed out" in got["flags"][1]
