"""The serving side of a traffic canary as the tests run it (design §12.1): a client API token
made through Unleash's admin API, a ``reconciler.client.ReleaseClient`` on the official SDK
refreshing every second, and which users a release flag puts on the canary."""

from __future__ import annotations

import uuid
from pathlib import Path

import mmh3

from reconciler.client import ReleaseClient
from tests.backends.unleash.server import Unleash

#: Seconds a test waits for the SDK to know the release flag (its server publishes a write
#: within about a second; a loaded machine takes longer).
SDK_WAIT = 20.0


def client_token(unleash: Unleash) -> str:
    """A client API token (what a serving process holds) for the production environment."""
    body = {"tokenName": f"agent-{uuid.uuid4().hex[:8]}", "type": "client"}
    body |= {"environment": "production", "projects": ["*"]}
    return str(unleash.call("POST", "api-tokens", body)["secret"])


def release_client(
    bundle: str, unleash: Unleash, token: str, staged_url: str, cache: Path
) -> ReleaseClient:
    """A release client of ``bundle`` whose SDK refreshes every second and reports nothing."""
    return ReleaseClient(
        bundle=bundle,
        unleash={
            "url": f"{unleash.url}/api",
            "app_name": bundle,
            "instance_id": uuid.uuid4().hex,
            "custom_headers": {"Authorization": token},
            "refresh_interval": 1,
            "disable_metrics": True,
            "disable_registration": True,
            "cache_directory": str(cache),
        },
        staged_url=staged_url,
    )


#: The seed of Unleash's variant hashing (its SDKs' VARIANT_HASH_SEED); a strategy's rollout
#: percentage hashes with seed 0.
VARIANT_SEED = 86028157


def on_canary_by_hash(flag: str, users: list[str], weight: int) -> set[str]:
    """The users Unleash puts on ``canary`` at ``weight`` (of 1000), computed apart from it:
    the server sorts the variants by name, so ``canary`` takes the lowest buckets, and a user's
    bucket is murmur3("<groupId>:<userId>", VARIANT_SEED) % 1000 + 1, the flag's name being the
    group id."""
    key = "{flag}:{user}"
    return {
        u
        for u in users
        if mmh3.hash(key.format(flag=flag, user=u), seed=VARIANT_SEED, signed=False) % 1000 + 1
        <= weight
    }
