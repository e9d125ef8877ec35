"""design §14 with daemons on the session's PostgreSQL: staging and production each led by a
different daemon, on one shared state; production starts a content digest only after staging
completed it and soaked, within an interval of the soak's end."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.daemon.support import DaemonProcess, Remote, rollout_of
from tests.servers.docstore import DocStore, running_docstore
from tests.servers.postgres import Postgres
from tests.support.configrepo import inventory

INTERVAL = 0.3
SOAK = 3.0
#: Slack for a step on a busy two-core machine (an audit, a lease write, a few HTTP calls).
SLACK = 4.0


def _fleet(tmp_path: Path, store: DocStore) -> Remote:
    remote = Remote(tmp_path)
    author = remote.author
    author.bundle()
    for env, names in (("staging", ["s1"]), ("production", ["p1", "p2"])):
        targets = [
            {"name": n, "source": {"type": "http", "url": f"{store.url}/{env}/{n}/{{bundle}}.json"}}
            for n in names
        ]
        extra: dict[str, Any] = {"environment": env, "rollout": {"progress_deadline": "2m"}}
        if env == "production":
            extra["promotion"] = {"from": "staging", "soak": f"{SOAK:g}s"}
        author.write(f"targets/{env}.yaml", inventory(targets, **extra))
    author.commit("v1")
    remote.push()
    return remote


def _daemon(remote: Remote, path: Path, url: str, env: str) -> DaemonProcess:
    import subprocess

    subprocess.run(["git", "clone", "-q", str(remote.origin), str(path)], check=True)
    args = ("--state", url, "--interval", f"{INTERVAL}s")
    return DaemonProcess(path, *args, envs=(env,), session=True)


def test_two_daemons_promote_staging_to_production(tmp_path: Path, postgres: Postgres) -> None:
    url = postgres.create_database("promotion")
    with running_docstore() as store:
        remote = _fleet(tmp_path, store)
        v1 = remote.author.git("rev-parse", "HEAD").strip()
        production = _daemon(remote, tmp_path / "prod", url, "production")
        staging = None
        try:
            # Production's leader waits, visibly, while staging has not started.
            status = production.wait_until(
                lambda s: (rollout_of(s).get("waiting") or {}).get("reason") == "AwaitingPromotion",
                what="production waits for staging",
            )
            assert "staging has not started" in rollout_of(status)["waiting"]["message"]
            assert status["summary"]["stalled"] is False
            assert not store.writes

            staging = _daemon(remote, tmp_path / "stg", url, "staging")
            production.wait_until(
                lambda s: rollout_of(s).get("phase") == "complete" and s["summary"]["in_sync"] == 2,
                timeout=60,
                what="production completes v1",
            )
            [staged] = [w.at for w in store.writes if w.path.startswith("/staging/")]
            first = min(w.at for w in store.writes if w.path.startswith("/production/"))
            # Not before staging completed and soaked; within an interval of the soak's end
            # (staging's completion is seen up to an interval after its write).
            assert first - staged >= SOAK, first - staged
            assert first - staged < SOAK + 2 * INTERVAL + SLACK, first - staged
            assert store.written(v1) == {
                "/staging/s1/support-agent.json": 1,
                "/production/p1/support-agent.json": 1,
                "/production/p2/support-agent.json": 1,
            }
            assert staging.metric("reconciler_leader", environment="staging") == 1.0
            assert production.metric("reconciler_leader", environment="production") == 1.0
        finally:
            production.kill()
            if staging is not None:
                staging.kill()
