"""The s3 source against a real moto: fetch, missing, apply round trips, stamps, versions."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.model.document import parse
from reconciler.sources import InvalidResponse, NotFound, PermanentError, Source

from .conftest import Store
from .support import REVISION_B, Open, rendered, within


def test_fetch_returns_the_object_in_sync(store: Store, tmp_path: Path) -> None:
    document = rendered().to_bytes()
    store.put("agents/support-agent.json", document)

    async def scenario(open_: Open) -> bytes:
        return await open_().fetch("support-agent")

    fetched = within(store.spec(), scenario, root=tmp_path)
    assert fetched == document
    assert parse(fetched).digests == rendered().digests


def test_bundle_names_the_key(store: Store, tmp_path: Path) -> None:
    store.put("fleet/one/config.json", b"one")
    store.put("fleet/two/config.json", b"two")

    async def scenario(open_: Open) -> list[bytes]:
        source = open_()
        return [await source.fetch("one"), await source.fetch("two")]

    assert within(store.spec("fleet/{bundle}/config.json"), scenario, root=tmp_path) == [
        b"one",
        b"two",
    ]


def test_absent_key_is_missing(store: Store, tmp_path: Path) -> None:
    async def scenario(open_: Open) -> None:
        await open_().fetch("support-agent")

    with pytest.raises(NotFound) as caught:
        within(store.spec(), scenario, root=tmp_path)
    assert str(caught.value) == "object agents/support-agent.json does not exist in bucket agents"


def test_deleted_object_in_a_versioned_bucket_is_missing(store: Store, tmp_path: Path) -> None:
    store.versioned()
    store.put("agents/support-agent.json", rendered().to_bytes())
    store.client.delete_object(Bucket=store.bucket, Key="agents/support-agent.json")

    async def scenario(open_: Open) -> None:
        await open_().fetch("support-agent")

    with pytest.raises(NotFound):  # the newest version is a delete marker
        within(store.spec(), scenario, root=tmp_path)


def test_absent_bucket_is_unreachable_not_missing(store: Store, tmp_path: Path) -> None:
    async def scenario(open_: Open) -> None:
        await open_().fetch("support-agent")

    with pytest.raises(PermanentError) as caught:
        within(store.spec(bucket="no-such-bucket"), scenario, root=tmp_path)
    assert type(caught.value) is PermanentError  # not NotFound: the target is unreachable
    assert str(caught.value) == "bucket no-such-bucket does not exist"


def test_size_cap(store: Store, tmp_path: Path) -> None:
    store.put("agents/big.json", b"x" * 2048)
    store.put("agents/small.json", b"x" * 1024)

    async def scenario(open_: Open) -> bytes:
        source = open_()
        with pytest.raises(InvalidResponse, match="larger than 1024 bytes"):
            await source.fetch("big")
        return await source.fetch("small")

    assert within(store.spec(), scenario, root=tmp_path, max_body=1024) == b"x" * 1024


def test_apply_then_fetch_round_trip_with_stamps(store: Store, tmp_path: Path) -> None:
    desired = rendered(revision=REVISION_B)

    async def scenario(open_: Open) -> bytes:
        await open_().apply("support-agent", desired.to_bytes())
        return await open_().fetch("support-agent")  # verified by another source, re-read

    fetched = within(store.spec(), scenario, root=tmp_path)
    assert parse(fetched).digests == desired.digests
    head = store.client.head_object(Bucket=store.bucket, Key="agents/support-agent.json")
    assert head["Metadata"] == {"digest": desired.digest, "revision": REVISION_B}
    assert head["ContentType"] == "application/json"


def test_a_document_without_revision_or_json_gets_no_stamp(store: Store, tmp_path: Path) -> None:
    async def scenario(open_: Open) -> None:
        source = open_()
        await source.apply("unrevised", rendered(revision=None).to_bytes())
        await source.apply("not-json", b"<html>")

    within(store.spec(), scenario, root=tmp_path)
    head = store.client.head_object(Bucket=store.bucket, Key="agents/unrevised.json")
    assert head["Metadata"] == {"digest": rendered(revision=None).digest}
    head = store.client.head_object(Bucket=store.bucket, Key="agents/not-json.json")
    assert head["Metadata"] == {}


def test_apply_is_idempotent_and_each_write_is_a_version(store: Store, tmp_path: Path) -> None:
    store.versioned()
    document = rendered().to_bytes()

    async def scenario(open_: Open) -> list[bytes]:
        fetched = []
        for source in (open_(), open_()):  # a fresh source each time, as the rollout driver does
            await source.apply("support-agent", document)
            fetched.append(await source.fetch("support-agent"))
        return fetched

    assert within(store.spec(), scenario, root=tmp_path) == [document, document]
    versions = store.versions("agents/support-agent.json")
    assert len(versions) == 2
    assert sum(v["IsLatest"] for v in versions) == 1


def test_apply_replaces_what_was_read(store: Store, tmp_path: Path) -> None:
    store.versioned()
    store.put("agents/support-agent.json", rendered(text="old").to_bytes())
    desired = rendered(text="new")

    async def scenario(open_: Open) -> None:
        source: Source = open_()
        await source.fetch("support-agent")
        await source.apply("support-agent", desired.to_bytes())
        await source.apply("support-agent", desired.to_bytes())  # with the ETag it wrote

    within(store.spec(), scenario, root=tmp_path)
    assert store.get("agents/support-agent.json") == desired.to_bytes()
    assert len(store.versions("agents/support-agent.json")) == 3
