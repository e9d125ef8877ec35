"""One real moto server per session (and one that checks credentials); a fresh store per test.

Credentials reach the source the way they reach it in production: boto3's default chain reads
the process environment, which every test here sets to moto's conventional ``testing`` keys.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from reconciler.sources import s3 as s3_source

from .server import Moto, MotoUnavailable, running_moto

BUCKET = "agents"
REGION = "us-east-1"
#: The process's AWS credentials during these tests (moto accepts any unless told to check).
ACCESS_KEY_ID = "AKIATESTINGREC0NC1LE"
SECRET_ACCESS_KEY = "testing-secret-9f8e7d6c5b4a"


def _started(workdir: Path, env: dict[str, str] | None = None) -> Iterator[Moto]:
    problem = ""
    try:
        with running_moto(workdir, env) as server:
            yield server
    except MotoUnavailable as exc:  # fail, never skip: a missing server must not pass quietly
        problem = str(exc)
    if problem:
        pytest.fail(problem, pytrace=False)


@pytest.fixture(scope="session")
def moto_checking(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Moto]:
    """A second moto that checks credentials: only keys created through its IAM API pass."""
    yield from _started(tmp_path_factory.mktemp("moto-auth"), {"INITIAL_NO_AUTH_ACTION_COUNT": "0"})


@pytest.fixture(autouse=True)
def aws_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """The process environment boto3's default chain reads, isolated from the machine's own."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    yield


@pytest.fixture
def fresh_clients() -> Iterator[None]:
    """For a test that changes the credentials: the source's shared clients keep the ones they
    were created with, so start without clients and leave none behind."""
    s3_source.clear_clients()
    yield
    s3_source.clear_clients()


@dataclass
class Store:
    """The test's own view of the moto store (a separate client, not the source's)."""

    moto: Moto
    client: Any
    bucket: str = BUCKET

    def spec(self, key: str = "agents/{bundle}.json", **more: Any) -> dict[str, Any]:
        return {
            "type": "s3",
            "bucket": self.bucket,
            "key": key,
            "region": REGION,
            "endpoint_url": self.moto.url,
            **more,
        }

    def put(self, key: str, body: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=key, Body=body)

    def get(self, key: str) -> bytes:
        return bytes(self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read())

    def versioned(self) -> None:
        self.client.put_bucket_versioning(
            Bucket=self.bucket, VersioningConfiguration={"Status": "Enabled"}
        )

    def versions(self, key: str) -> list[dict[str, Any]]:
        listing = self.client.list_object_versions(Bucket=self.bucket, Prefix=key)
        return [v for v in listing.get("Versions", []) if v["Key"] == key]


@pytest.fixture(scope="session")
def moto_client(moto: Moto) -> Any:
    """The tests' own boto3 client (created once: a client costs ~150 ms)."""
    return boto3.client(
        "s3",
        endpoint_url=moto.url,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET_ACCESS_KEY,
    )


@pytest.fixture
def store(moto: Moto, moto_client: Any) -> Store:
    """An empty moto with bucket ``agents``."""
    moto.reset()
    moto_client.create_bucket(Bucket=BUCKET)
    return Store(moto, moto_client)
