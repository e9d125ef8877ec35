"""Two writers never silently overwrite each other: moto honours S3's conditional writes."""

from __future__ import annotations

import asyncio
from pathlib import Path

from reconciler.sources import TransientError
from reconciler.sources.s3_errors import LOST_WRITE

from .conftest import Store
from .support import Open, outcome, rendered, within

KEY = "agents/support-agent.json"


def test_two_writers_that_read_the_same_etag_one_wins(store: Store, tmp_path: Path) -> None:
    store.put(KEY, rendered(text="before").to_bytes())
    first, second = rendered(text="first"), rendered(text="second")

    async def scenario(open_: Open) -> list[object]:
        a, b = open_(), open_()
        assert await a.fetch("support-agent") == await b.fetch("support-agent")
        return [
            await outcome(a.apply("support-agent", first.to_bytes())),
            await outcome(b.apply("support-agent", second.to_bytes())),
        ]

    won, lost = within(store.spec(), scenario, root=tmp_path)
    assert won is None
    assert type(lost) is TransientError  # the reconciler re-reads on its next step
    assert str(lost) == LOST_WRITE
    assert store.get(KEY) == first.to_bytes()


def test_the_loser_writes_after_reading_again(store: Store, tmp_path: Path) -> None:
    store.put(KEY, rendered(text="before").to_bytes())
    mine = rendered(text="mine")

    async def scenario(open_: Open) -> object:
        source = open_()
        await source.fetch("support-agent")
        store.put(KEY, rendered(text="someone else").to_bytes())  # out of band, after our read
        lost = await outcome(source.apply("support-agent", mine.to_bytes()))
        await source.fetch("support-agent")
        await source.apply("support-agent", mine.to_bytes())
        return lost

    assert str(within(store.spec(), scenario, root=tmp_path)) == LOST_WRITE
    assert store.get(KEY) == mine.to_bytes()


def test_many_racing_writers_exactly_one_wins(store: Store, tmp_path: Path) -> None:
    store.put(KEY, rendered(text="before").to_bytes())
    documents = [rendered(text=f"writer {n}").to_bytes() for n in range(8)]

    async def scenario(open_: Open) -> list[object]:
        sources = [open_() for _ in documents]
        for source in sources:
            await source.fetch("support-agent")
        return list(
            await asyncio.gather(
                *(
                    outcome(source.apply("support-agent", document))
                    for source, document in zip(sources, documents, strict=True)
                )
            )
        )

    outcomes = within(store.spec(), scenario, root=tmp_path)
    assert outcomes.count(None) == 1
    assert all(str(lost) == LOST_WRITE for lost in outcomes if lost is not None)
    assert store.get(KEY) == documents[outcomes.index(None)]


def test_two_writers_that_found_nothing_one_creates(store: Store, tmp_path: Path) -> None:
    first, second = rendered(text="first"), rendered(text="second")

    async def scenario(open_: Open) -> list[object]:
        a, b = open_(), open_()
        for source in (a, b):
            assert await outcome(source.fetch("support-agent")) is not None  # missing
        return [
            await outcome(a.apply("support-agent", first.to_bytes())),
            await outcome(b.apply("support-agent", second.to_bytes())),
        ]

    won, lost = within(store.spec(), scenario, root=tmp_path)
    assert won is None
    assert str(lost) == LOST_WRITE  # If-None-Match: * found the first writer's object
    assert store.get(KEY) == first.to_bytes()


def test_a_write_after_the_object_was_deleted_is_lost(store: Store, tmp_path: Path) -> None:
    store.put(KEY, rendered().to_bytes())

    async def scenario(open_: Open) -> object:
        source = open_()
        await source.fetch("support-agent")
        store.client.delete_object(Bucket=store.bucket, Key=KEY)
        return await outcome(source.apply("support-agent", rendered(text="x").to_bytes()))

    assert str(within(store.spec(), scenario, root=tmp_path)) == LOST_WRITE
