"""Kill the daemon with SIGKILL at random instants across many rollouts: every restart must end
with every target converged, or the rollout explicitly Stalled — never silently behind."""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

from tests.daemon.support import DaemonProcess, complete, rollout_of
from tests.daemon.test_daemon_e2e import _setup
from tests.servers.nginx import Nginx

ROLLOUTS = 20
#: Seeded, so that every CI run kills at the same instants; CRASH_SEED tries others.
SEED = 1129


def test_sigkill_at_random_instants_never_leaves_a_target_silently_behind(
    tmp_path: Path, nginx: Nginx
) -> None:
    seed = int(os.environ.get("CRASH_SEED", SEED))
    chance = random.Random(seed)
    remote = _setup(tmp_path, nginx)
    outcomes: list[str] = []
    kills_mid_rollout = 0
    for number in range(ROLLOUTS):
        remote.author.bundle(
            prompt=f"Release {number}: answer briefly.\n", temperature=round(0.1 + number / 100, 2)
        )
        remote.author.commit(f"release {number}")
        sha = remote.push()
        first = DaemonProcess(remote.user, "--interval", "0.05s")
        time.sleep(chance.uniform(0.0, 1.2))  # the random instant of the crash
        seen = first.status()
        first.kill()  # SIGKILL: no chance to finish the step
        if seen is not None and not complete(seen):
            kills_mid_rollout += 1
        second = DaemonProcess(remote.user, "--interval", "0.05s")
        try:
            final = second.wait_until(
                lambda s, sha=sha: (
                    s["desired"]["revision"] == sha
                    and (complete(s) or rollout_of(s).get("stalled") is True)
                ),
                timeout=60,
                what=f"rollout {number} (seed {seed}) converged or stalled",
            )
        finally:
            second.kill()
        if complete(final):
            assert rollout_of(final)["to_revision"] == sha
            assert final["summary"]["in_sync"] == final["summary"]["targets"]
            outcomes.append("converged")
        else:
            kinds = [c["type"] for c in rollout_of(final)["conditions"]]
            assert "Stalled" in kinds, (seed, final)
            outcomes.append("stalled")
    print(
        f"crash test seed {seed}: {outcomes.count('converged')} converged, "
        f"{outcomes.count('stalled')} stalled, {kills_mid_rollout} kills mid-rollout"
    )
    assert len(outcomes) == ROLLOUTS
    assert outcomes.count("converged") == ROLLOUTS  # a 20 s deadline is never reached here
    assert kills_mid_rollout >= 1, "no kill landed mid-rollout: the test proved nothing"
