"""The s3 source's two phases (design §12) against a real moto: PutObject of
``{key}.staged/<hex>.json`` serves nothing; the switch is a server-side CopyObject onto the key;
staged copies are listed and dropped; a switch to a digest whose copy is gone is NotFound."""

from __future__ import annotations

from pathlib import Path

from reconciler.sources import NotFound
from reconciler.sources.staging import digest_hex, stager_of

from .conftest import Store
from .support import REVISION_B, Open, outcome, rendered, within

KEY = "agents/support-agent.json"


def test_stage_serves_nothing_switch_copies_server_side(store: Store, tmp_path: Path) -> None:
    old, new = rendered().to_bytes(), rendered(revision=REVISION_B, text="Newer.").to_bytes()
    store.put(KEY, old)
    old_hex, new_hex = digest_hex(old), digest_hex(new)

    async def scenario(open_: Open) -> tuple[bytes, bytes, list[str] | None]:
        stager = stager_of(open_())
        assert stager.stages and not stager.uploads
        await stager.stage("support-agent", new_hex, new)
        serving = store.get(KEY)  # staged: the serving object is untouched
        staged = await stager.read_staged("support-agent", new_hex, new)
        await stager.switch("support-agent", new_hex, new)
        await stager.switch("support-agent", new_hex, new)  # idempotent
        return serving, staged, await stager.staged("support-agent")

    serving, staged, listed = within(store.spec(), scenario, root=tmp_path)
    assert serving == old
    assert staged == new
    assert store.get(KEY) == new
    assert store.get(f"{KEY}.staged/{new_hex}.json") == new
    assert listed == [new_hex]
    assert old_hex != new_hex


def test_a_collected_copy_cannot_be_switched_to(store: Store, tmp_path: Path) -> None:
    document = rendered().to_bytes()
    hex_ = digest_hex(document)

    async def scenario(open_: Open) -> tuple[object, list[str] | None]:
        stager = stager_of(open_())
        await stager.stage("support-agent", hex_, document)
        await stager.drop("support-agent", [hex_])
        return await outcome(stager.switch("support-agent", hex_, document)), await stager.staged(
            "support-agent"
        )

    failed, listed = within(store.spec(), scenario, root=tmp_path)
    assert isinstance(failed, NotFound) and "is gone" in str(failed)
    assert listed == []
