"""Benchmark: from a failing canary judgement to the flag's weight at 0, re-read through the
official Unleash SDK's own refresh (design §12.1). Goal: <= 1 SDK refresh interval + 1 s.

One run, one machine: a real Unleash (on a PostgreSQL of its own) holds a release flag at the 5%
step; ``reconciler.client`` (the official SDK, refresh interval ``REFRESH`` s) serves 200 users,
some on the canary. Each round: the judge fails a step (``judge`` on counts where ``es`` regresses,
then ``canary_steps.looked``), the reconciler's own Unleash source writes the weight to 0 in one
write (the strategy ``release_strategy`` builds), and the clock stops when the SDK gives every
user the stable digest. Each round starts just after the SDK's refresh saw the step, so the flip
waits nearly a whole interval for the next one: the worst case, by construction.

Run: ``.venv/bin/python -m tests.bench.bench_canary_flip [rounds]``.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from reconciler.canary.flag import Release, release_strategy, weight_of
from reconciler.canary.judge import Counts, Pair, Rule, judge
from reconciler.client import ReleaseClient
from reconciler.model.inventory import TargetSpec
from reconciler.sources.context import SourceContext
from reconciler.sources.unleash import open_unleash
from tests.backends.unleash.server import running_unleash

REFRESH = 2  # seconds: the SDK's refresh_interval (its default is 15)
USERS = [f"u-{i}" for i in range(200)]
OLD, NEW = Release("sha256:" + "a" * 64, "a" * 40), Release("sha256:" + "b" * 64, "b" * 40)
SAMPLES = {
    "refusal-rate": {
        "en": Pair(Counts(80, 1000), Counts(800, 10000)),
        "es": Pair(Counts(160, 1000), Counts(800, 10000)),
    }
}


def write(url: str, token: str, flag: str, weight: int) -> None:
    """One write of the release flag through the reconciler's Unleash source."""
    spec = {
        "name": "flags",
        "source": {"type": "unleash", "url": url, "environment": "production", "token": token},
    }
    target = TargetSpec.model_validate(spec)
    strategy = release_strategy(flag, "userId", OLD, NEW, weight)

    async def run() -> None:
        async with SourceContext(Path("."), {}) as ctx:
            source = open_unleash(target.source, target, ctx)  # type: ignore[arg-type]
            await source.write_release(flag, strategy, f"bench, canary weight {weight}/1000")

    asyncio.run(run())


def on_canary(client: ReleaseClient) -> int:
    return sum(client.bundle({"userId": u}).variant == "canary" for u in USERS)


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    with running_unleash() as unleash, tempfile.TemporaryDirectory() as cache:
        body = {"tokenName": "bench", "type": "client", "environment": "production"}
        token = str(unleash.call("POST", "api-tokens", {**body, "projects": ["*"]})["secret"])
        flag = f"bench-{uuid.uuid4().hex[:6]}.release"
        write(unleash.url, unleash.token, flag, weight_of(0.05))
        client = ReleaseClient(
            "bench",
            unleash={
                "url": f"{unleash.url}/api",
                "app_name": "bench",
                "custom_headers": {"Authorization": token},
                "refresh_interval": REFRESH,
                "disable_metrics": True,
                "disable_registration": True,
                "cache_directory": cache,
            },
            staged_url="file:///nowhere/{digest_hex}.json",
            flag=flag,
        )
        client.staged = lambda digest: {}  # type: ignore[assignment,method-assign]  # no copies
        client.start()
        flips: list[float] = []
        try:
            for _ in range(rounds):
                write(unleash.url, unleash.token, flag, weight_of(0.25))
                while on_canary(client) == 0:  # the SDK sees the step (a refresh)
                    time.sleep(0.05)
                started = time.perf_counter()
                rule = Rule("refusal-rate", "proportion", tolerance=0.05)
                verdict = judge([rule], SAMPLES, alpha=0.05, steps=3, min_samples=50)
                assert verdict.decision == "abort", verdict.reason
                write(unleash.url, unleash.token, flag, 0)  # the one write of the abort
                while on_canary(client):
                    time.sleep(0.01)
                flips.append(time.perf_counter() - started)
        finally:
            client.stop()
    worst, median = max(flips), statistics.median(flips)
    print(
        f"failing judgement -> weight 0 seen by the SDK (refresh {REFRESH} s), {rounds} rounds: "
        f"median {median:.2f} s, worst {worst:.2f} s (goal <= {REFRESH + 1} s)"
    )


if __name__ == "__main__":
    main()
