"""Traffic canaries end to end (design §12.1) against the real Unleash, the real Prometheus and
the official Unleash SDK: a test agent service (tests/servers/agent_service.py) serves simulated
requests from users in segments en, es and de, each request's digest picked by
``reconciler.client``, and exports its requests and refusals per digest and segment for the
session's Prometheus to scrape. The rollout is the real ``Driver``, stepped on a clock that is
wall time plus a skew the test adds to jump past a deadline (Prometheus scrapes in wall time,
so a step's bake is a few wall seconds).

The new digest refuses 50% of the requests in ``es`` (20% everywhere else, and before): judged
per segment (+150% in es), the canary fails at or before 5%, its weight goes back to 0 and what
it served stays within the steps' shares; judged without ``by`` the diluted aggregate (+50%)
stays under the same 100% tolerance, and it passes: the segment is what catches it. A clean
change passes every step and ends switched everywhere with weight 0, and a daemon killed between
steps (a new driver on the same state store) resumes at the same step with the flag unchanged.
Too few samples wait, and past ``progress_deadline`` the rollout is Stalled naming them.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.model.canary_progress import CanaryState
from reconciler.model.rollout import ConditionType, Phase
from tests.backends.unleash.server import Unleash
from tests.servers.agent_service import AgentService
from tests.servers.exporter import Exporter
from tests.servers.prometheus import Prometheus
from tests.support.canary_world import World, canary_spec
from tests.support.configrepo import ConfigRepo
from tests.support.release import SDK_WAIT

PER_SECOND = 3000  # simulated requests a second (the SDK takes ~0.2 ms a variant)
#: Refusal rates: the old digest everywhere, and the new one in ``es`` when it regresses: +150%
#: in es, +50% in the aggregate of the three segments; both tests judge against a 100% tolerance.
BASE, WORSE = 0.20, 0.50
TOLERANCE = "100%"


@pytest.fixture
def run() -> str:
    return uuid.uuid4().hex[:10]


@pytest.fixture
def world(unleash: Unleash, prometheus: Prometheus, tmp_path: Path) -> Iterator[World]:
    # A name of its own, not the ``bundle`` fixture's count: other tests' users hash by theirs.
    bundle = f"canary-{uuid.uuid4().hex[:8]}"
    repo = ConfigRepo(tmp_path / "config")
    repo.write(".gitignore", "fleet/\n")
    (repo.root / "fleet" / "store").mkdir(parents=True)
    found = World(repo, bundle, unleash, prometheus.url)
    yield found
    if found.driver is not None:
        found.driver.store.close()


def first_rollout(world: World, canary: dict[str, object]) -> str:
    """v1, plain (no baseline yet): it converges and creates the release flag, weight 0."""
    world.write_inventory(canary)
    world.commit("v1", "You help customers.\n")
    step = world.until(lambda s: s.complete, timeout=20)
    v1 = world.rollout().content
    assert world.rollout().canary is not None and step.bundles[world.bundle].canary_weights == [0]
    assert world.release() == {"stable": (1000, v1), "canary": (0, v1)}
    return v1


def serve(world: World, token: str, tmp_path: Path, run: str, bad: str | None) -> AgentService:
    def refusals(digest: str, segment: str) -> float:
        return WORSE if digest == bad and segment == "es" else BASE

    client = world.client(token, tmp_path / "sdk-cache")
    client.start(wait=SDK_WAIT)  # the SDK knows the release flag before any request
    return AgentService(client, EXPORTER[0], bundle=world.bundle, run=run, refusals=refusals)


EXPORTER: list[Exporter] = []


@pytest.fixture(autouse=True)
def _exporter(exporter: Exporter) -> None:
    EXPORTER[:] = [exporter]


def test_a_regression_in_one_segment_fails_the_canary_at_5_percent_and_flips_back(
    world: World, client_token: str, tmp_path: Path, run: str
) -> None:
    v1 = first_rollout(world, canary_spec(run, tolerance=TOLERANCE))
    world.commit("v2", "You help customers. Refuse anything unclear.\n")
    service = serve(world, client_token, tmp_path, run, bad=None)
    weights: list[tuple[int, int]] = []  # (weight written, requests served so far)
    try:
        with service.serving(PER_SECOND):
            v2 = ""

            def failed(step: object) -> bool:
                nonlocal v2
                r = world.rollout()
                v2 = r.content
                written = step.bundles[world.bundle].canary_weights
                weights.extend((w, service.total()) for w in written)
                return r.canary is not None and r.canary.state is CanaryState.FAILED

            service.refusals = lambda d, s: WORSE if d == v2 and s == "es" else BASE
            world.until(failed)
            at_failure = service.served(v2)
            rollout = world.rollout()
            # Once the SDK refreshed (1 s), nobody is served v2 any more.
            world.until(lambda _: service.total() > weights[-1][1] + PER_SECOND * 1.5)
            after = service.served(v2)
    finally:
        service.client.stop()
    canary = rollout.canary
    assert canary is not None and canary.step <= 1, canary  # at 1% or at 5%
    assert [w for w, _ in weights] == [*[10, 50, 0][: canary.step + 1], 0]
    failing = [row for row in canary.table if row["verdict"] == "fail"]
    assert [row["segment"] for row in failing] == ["es"], canary.table
    assert rollout.phase is Phase.PAUSED and ConditionType.CANARY_FAILED in rollout.conditions
    message = rollout.conditions[ConditionType.CANARY_FAILED].message
    assert "refusal-rate [es]" in message and "canary" in message and "p=" in message
    assert world.driver is not None
    assert world.driver.store.quarantined("production", world.bundle, v2) is not None
    assert world.release() == {"stable": (1000, v1), "canary": (0, v2)}
    # What the bad digest served: the steps' shares of the traffic, plus one judge interval
    # and one SDK refresh after the flip (the service's own counts).
    during = [b - a for (_, a), (_, b) in itertools.pairwise(weights)]
    shares = sum(w / 1000 * n for (w, _), n in zip(weights, during, strict=False))
    assert after - at_failure <= PER_SECOND * 0.05 * 2.5, (after, at_failure)
    assert after <= shares * 1.3 + PER_SECOND * 0.05 * 2.5, (after, shares)


def test_without_by_segment_the_diluted_regression_passes_under_its_tolerance(
    world: World, client_token: str, tmp_path: Path, run: str
) -> None:
    first_rollout(world, canary_spec(run, by=None, tolerance=TOLERANCE))
    world.commit("v2", "You help customers. Refuse anything unclear.\n")
    service = serve(world, client_token, tmp_path, run, bad=None)
    try:
        with service.serving(PER_SECOND):
            world.until(lambda _: bool(world.rollout().content))
            v2 = world.rollout().content
            service.refusals = lambda d, s: WORSE if d == v2 and s == "es" else BASE
            world.until(lambda s: s.complete, timeout=60)
    finally:
        service.client.stop()
    canary = world.rollout().canary
    assert canary is not None and canary.state is CanaryState.SETTLED
    assert [row["segment"] for row in canary.table] == ["*"]
    assert canary.table[0]["verdict"] == "pass" and 0.2 < canary.table[0]["difference"] < 1.0
    assert world.release() == {"stable": (1000, v2), "canary": (0, v2)}


def test_a_clean_change_passes_every_step_resumes_after_a_kill_and_ends_switched(
    world: World, client_token: str, tmp_path: Path, run: str
) -> None:
    v1 = first_rollout(world, canary_spec(run, tolerance="50%"))
    world.commit("v2", "You help customers kindly.\n")
    service = serve(world, client_token, tmp_path, run, bad=None)
    try:
        with service.serving(PER_SECOND):
            world.until(lambda s: s.bundles[world.bundle].canary_weights == [10])
            v2 = world.rollout().content
            before, writes = world.release(), world.writes()
            assert before == {"stable": (990, v1), "canary": (10, v2)}
            # The daemon dies between steps; a new one resumes at the same step, the flag as is.
            world.restart()
            world.step()
            canary = world.rollout().canary
            assert canary is not None and (canary.step, canary.weight) == (0, 10)
            assert (world.release(), world.writes()) == (before, writes)
            step = world.until(lambda s: s.complete, timeout=60)
    finally:
        service.client.stop()
    r = world.rollout()
    assert r.phase is Phase.COMPLETE and r.canary is not None
    assert r.canary.state is CanaryState.SETTLED and r.canary.step == 3
    assert {row["verdict"] for row in r.canary.table} == {"pass"}
    assert sorted(row["segment"] for row in r.canary.table) == ["de", "en", "es"]
    assert world.release() == {"stable": (1000, v2), "canary": (0, v2)}
    assert step.audit.counts()["in_sync"] == 2
    assert service.served(v2) > 0 and not service.errors


def test_too_few_samples_wait_and_stall_past_the_deadline_naming_the_thin_segments(
    world: World, run: str
) -> None:
    first_rollout(world, canary_spec(run))
    world.write_inventory(canary_spec(run), progress_deadline="1m")
    world.commit("v2", "You help customers kindly.\n")  # nobody is served: no samples at all
    world.until(lambda s: s.bundles[world.bundle].canary_weights == [10])
    world.skew += 6  # past the bake
    world.step()
    canary = world.rollout().canary
    assert canary is not None and canary.state is CanaryState.WAITING
    assert "too few samples in refusal-rate [*]" in canary.message
    assert not world.rollout().stalled
    world.skew += 61  # past progress_deadline
    step = world.step()
    r = world.rollout()
    assert r.stalled and r.canary is not None and r.canary.step == 0
    assert r.canary.state is CanaryState.WAITING
    stalled = r.conditions[ConditionType.STALLED].message
    assert "too few samples in refusal-rate" in stalled, stalled
    assert any(getattr(a, "condition", "") == "stalled" for a in step.bundles[world.bundle].actions)
    assert world.release()["canary"][0] == 10  # never passed, never moved on
