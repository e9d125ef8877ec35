"""A test agent service (design §12.1's serving side): simulated requests from users in segments,
each served by the bundle digest ``reconciler.client`` picks through the official Unleash SDK,
counted in ``agent_requests_total`` and ``agent_refusals_total`` {bundle, digest, segment} on an
exporter (tests/servers/exporter.py) for the real Prometheus to scrape.

Whether a request is refused is drawn from ``refusals(digest, segment)`` (a seeded generator):
a test plants a regression by giving the new digest a higher rate in one segment. The service
keeps its own counts too, to bound what the bad digest served.

    service = AgentService(client, exporter, bundle="support-agent", run="r1", refusals=rate)
    with service.serving(per_second=3000):   # a background thread, steady traffic
        ...
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from reconciler.client import ReleaseClient, ReleaseError
from tests.servers.exporter import Exporter

SEGMENTS = ("en", "es", "de")
USERS = 20_000


def segment_of(user: int) -> str:
    """Each user speaks one language: their segment."""
    return SEGMENTS[user % len(SEGMENTS)]


class AgentService:
    """Serves simulated requests and exports what each digest served and refused."""

    def __init__(
        self,
        client: ReleaseClient,
        exporter: Exporter,
        *,
        bundle: str,
        run: str,
        refusals: Callable[[str, str], float],
        seed: int = 7,
    ) -> None:
        self.client = client
        self.exporter = exporter
        self.bundle = bundle
        self.run = run
        self.refusals = refusals
        self.random = random.Random(seed)
        self.requests: Counter[tuple[str, str]] = Counter()  #: (digest, segment) -> served
        self.refused: Counter[tuple[str, str]] = Counter()
        self.errors: Counter[str] = Counter()  #: requests the client could give no bundle
        self._lock = threading.Lock()

    def serve(self, count: int) -> None:
        """Serve ``count`` requests from random users, then export the counters."""
        for _ in range(count):
            user = self.random.randrange(USERS)
            segment = segment_of(user)
            try:
                agent = self.client.bundle({"userId": f"u-{user}", "segment": segment})
            except ReleaseError as exc:
                self.errors[str(exc)[:80]] += 1
                continue
            key = (agent.digest, segment)
            with self._lock:
                self.requests[key] += 1
                if self.random.random() < self.refusals(agent.digest, segment):
                    self.refused[key] += 1
        self.export()

    def export(self) -> None:
        with self._lock:
            for (digest, segment), served in self.requests.items():
                labels = {"run": self.run, "bundle": self.bundle, "digest": digest}
                labels["segment"] = segment
                self.exporter.set("agent_requests_total", labels, served)
                self.exporter.set("agent_refusals_total", labels, self.refused[(digest, segment)])

    def served(self, digest: str) -> int:
        """Requests ``digest`` served so far (the service's own count)."""
        with self._lock:
            return sum(n for (d, _), n in self.requests.items() if d == digest)

    def total(self) -> int:
        with self._lock:
            return sum(self.requests.values())

    @contextmanager
    def serving(self, per_second: float, batch: int = 100) -> Iterator[AgentService]:
        """Steady traffic from a background thread (``batch`` requests at a time) while inside."""
        stop = threading.Event()

        def loop() -> None:
            pause = batch / per_second
            while not stop.is_set():
                started = time.monotonic()
                self.serve(batch)
                stop.wait(max(pause - (time.monotonic() - started), 0.0))

        thread = threading.Thread(target=loop, name="agent-service", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            stop.set()
            thread.join(timeout=10)
