"""reconciler.client (design §12.1) with the official Unleash SDK against the real Unleash, and
staged copies served by the real nginx: a release flag as §12.1 writes it (flexibleRollout at
100%, stickiness userId, groupId the flag's name, ``stable`` variable and ``canary`` fixed, JSON
payloads naming digests) splits users by the canary weight, and users on the canary at 5% stay
on it at 25%. Each request's bundle is the staged copy of its variant's digest, verified."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.bundle.rendered import Rendered
from reconciler.canary.flag import Release, release_strategy, weight_of
from reconciler.client import ReleaseClient, ReleaseError
from tests.backends.unleash.server import Unleash
from tests.servers.nginx import Nginx
from tests.support.release import SDK_WAIT, on_canary_by_hash, release_client

USERS = [f"u-{i}" for i in range(1000)]
OLD = Rendered.build("support", "a" * 40, {"prompt": {"text": "You help."}, "model": {"t": 0.2}})
NEW = Rendered.build("support", "b" * 40, {"prompt": {"text": "You help!"}, "model": {"t": 0.2}})


def strategy(flag: str, canary_weight: int) -> dict[str, Any]:
    """The strategy a step writes (reconciler.canary.flag), ``canary_weight`` of 1000 on NEW."""
    stable, canary = (Release(r.digest, r.revision) for r in (OLD, NEW))
    return release_strategy(flag, "userId", stable, canary, canary_weight)


@pytest.fixture
def staged(nginx: Nginx, tmp_path: Path) -> str:
    """Both digests' staged copies, as §12 stages them: ``<digest hex>.json``."""
    folder = tmp_path / "support.json.staged"
    folder.mkdir()
    for release in (OLD, NEW):
        (folder / f"{release.digest.removeprefix('sha256:')}.json").write_bytes(release.to_bytes())
    return nginx.serve(folder) + "{digest_hex}.json"


@pytest.fixture
def client(
    unleash: Unleash, bundle: str, staged: str, client_token: str, tmp_path: Path
) -> Iterator[ReleaseClient]:
    release = release_client(bundle, unleash, client_token, staged, tmp_path / "unleash-cache")
    yield release
    release.stop()


def on_canary(client: ReleaseClient) -> set[str]:
    found = set()
    for user in USERS:
        agent = client.bundle({"userId": user, "segment": "es"})
        assert (agent.digest, agent.variant) in ((OLD.digest, "stable"), (NEW.digest, "canary"))
        release = NEW if agent.variant == "canary" else OLD
        assert agent.components == release.components and agent.revision == release.revision
        if agent.variant == "canary":
            found.add(user)
    return found


def wait_until(check: Any, timeout: float = 15.0) -> Any:
    """``check()`` until it is truthy (the SDK refreshes every second); its value."""
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, "the SDK did not see the flag write in time"
        time.sleep(0.2)
    return found


def test_users_split_by_the_canary_weight_and_stay_on_it_as_it_grows(
    unleash: Unleash, bundle: str, client: ReleaseClient
) -> None:
    flag = f"{bundle}.release"
    unleash.create(flag)
    strategy_id = unleash.add_strategy(flag, strategy(flag, weight_of(0.05)))
    unleash.switch(flag, True)
    client.start(wait=SDK_WAIT)  # the SDK knows the flag: its first answer may predate it

    at_5 = on_canary(client)
    # Exactly the users whose bucket is among the lowest 50 of 1000: whatever name the bundle
    # fixture hands out, the split is the one Unleash's hashing gives, computed apart from it.
    assert at_5 == on_canary_by_hash(flag, USERS, 50)
    assert 30 <= len(at_5) <= 70, f"{len(at_5)} of 1000 users on the canary at 5%"

    unleash.update_strategy(flag, strategy_id, strategy(flag, weight_of(0.25)))  # one write

    def grown() -> set[str] | None:
        # two passes alike: a pass that spans the SDK's refresh sees part of each weight
        found, again = on_canary(client), on_canary(client)
        return found if len(found) > 70 and found == again else None

    at_25 = wait_until(grown)
    assert at_25 == on_canary_by_hash(flag, USERS, 250)
    assert 200 <= len(at_25) <= 300, f"{len(at_25)} of 1000 users on the canary at 25%"
    assert at_5 <= at_25  # sticky: nobody on the canary at 5% left it at 25%

    unleash.update_strategy(flag, strategy_id, strategy(flag, 0))  # back to 0: all stable
    wait_until(lambda: not on_canary(client))
    # every request was served from two staged copies, each loaded once
    info = client.cache_info()
    assert (info.currsize, info.misses) == (2, 2)


def test_no_variant_is_an_error_naming_the_flag(
    unleash: Unleash, bundle: str, client: ReleaseClient
) -> None:
    flag = f"{bundle}.release"
    unleash.create(flag)  # off in production: the SDK knows it and gives no variant
    client.start(wait=SDK_WAIT)
    with pytest.raises(ReleaseError, match=rf"flag '{flag}' gives no variant"):
        client.bundle({"userId": "u-1"})


def test_a_start_that_waits_names_a_flag_the_sdk_never_sees(
    bundle: str, client: ReleaseClient
) -> None:
    with pytest.raises(ReleaseError, match=rf"flag '{bundle}.release' is unknown to the Unleash"):
        client.start(wait=1.5)  # the flag was never created: no fetch will bring it


def test_a_staged_copy_is_verified_against_its_digest(nginx: Nginx, tmp_path: Path) -> None:
    folder = tmp_path / "staged"
    folder.mkdir()
    old_hex, new_hex = (r.digest.removeprefix("sha256:") for r in (OLD, NEW))
    (folder / f"{new_hex}.json").write_bytes(OLD.to_bytes())  # the wrong content for NEW
    (folder / f"{old_hex}.json").write_bytes(b"<html>not a bundle</html>")
    url = nginx.serve(folder) + "{digest_hex}.json"
    client = ReleaseClient("support", unleash={}, staged_url=url)
    with pytest.raises(ReleaseError, match=f"staged copy of {NEW.digest} has digest {OLD.digest}"):
        client.staged(NEW.digest)
    with pytest.raises(ReleaseError, match=f"staged copy of {OLD.digest} is not a rendered bundle"):
        client.staged(OLD.digest)
    missing = "sha256:" + "0" * 64
    with pytest.raises(ReleaseError, match=f"staged copy of {missing} could not be loaded"):
        client.staged(missing)
    with pytest.raises(ValueError, match="staged_url must name the digest"):
        ReleaseClient("support", unleash={}, staged_url=nginx.url("x.json"))


def test_the_client_imports_nothing_heavy() -> None:
    code = (
        "import sys, reconciler.client; "
        "print(sorted(m for m in ('pydantic', 'aiohttp', 'boto3', 'git', 'scipy', 'UnleashClient',"
        " 'reconciler.model', 'reconciler.sources') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"  # the SDK itself loads at start()
