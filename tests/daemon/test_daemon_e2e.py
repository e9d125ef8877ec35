"""The real daemon against a local git remote, file targets and nginx: rollouts, health gates,
stalls with alerts, a vanishing remote, and its endpoints."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.daemon.support import DaemonProcess, Remote, complete, rollout_of
from tests.servers.health import Health, running_health
from tests.servers.nginx import Nginx
from tests.servers.webhook import Webhook
from tests.support.configrepo import inventory
from tests.support.fleet import four_targets, make_fleet_dirs


def _setup(
    tmp_path: Path,
    nginx: Nginx,
    *,
    health_url: str | None = None,
    webhook: Webhook | None = None,
    **policy: Any,
) -> Remote:
    remote = Remote(tmp_path)
    served = tmp_path / "served"
    served.mkdir()
    rollout = {
        "waves": [
            {"name": "canary", "targets": ["canary"], "bake": "0.3s"},
            {"name": "rest", "targets": ["*"]},
        ],
        "progress_deadline": "20s",
        "health": {"successes": 1, "failures": 2},
    }
    rollout.update(policy)
    extra: dict[str, Any] = {"rollout": rollout}
    if webhook is not None:
        extra["alerts"] = [{"type": "webhook", "url": "${TEST_WEBHOOK_URL}"}]
    author = remote.author
    author.bundle()
    targets = four_targets(nginx.serve(served), health_url)
    author.write("targets/production.yaml", inventory(targets, **extra))
    author.write(".gitignore", "fleet/\n")
    author.commit("v1")
    remote.push()
    user = remote.clone_user()
    make_fleet_dirs(user)
    return remote


def test_full_rollout_across_waves_then_a_new_commit(
    tmp_path: Path, nginx: Nginx, promtool: Path
) -> None:
    remote = _setup(tmp_path, nginx)
    daemon = DaemonProcess(remote.user, "--interval", "0.2s")
    try:
        first = daemon.wait_until(complete, what="v1 complete")
        v1 = first["desired"]["revision"]
        remote.author.bundle(field="exec_summary")
        v2 = remote.author.commit("v2: rename")
        remote.push()
        done = daemon.wait_until(
            lambda s: s["desired"]["revision"] == v2 and complete(s), what="v2 complete"
        )
        r = rollout_of(done)
        assert (r["from_revision"], r["to_revision"]) == (v1, v2)
        assert [c["type"] for c in r["conditions"]] == ["Ready"]
        code, body = daemon.get("/metrics")
        assert code == 200
        assert b'reconciler_last_audit_timestamp_seconds{environment="production"}' in body
        applied = [
            line
            for line in body.splitlines()
            if line.startswith(b"reconciler_applies_total") and b'outcome="ok"' in line
        ]
        assert applied and float(applied[0].split()[-1]) >= 4  # every target written at least once
        check = subprocess.run([str(promtool), "check", "metrics"], input=body, capture_output=True)
        assert check.returncode == 0, check.stdout + check.stderr
        assert daemon.get("/healthz")[0] == 200
        assert daemon.terminate() == 0
        assert any(line.get("event") == "stopped" for line in daemon.lines)
    finally:
        if daemon.proc.poll() is None:
            daemon.kill()
    # The user's working tree was never touched: its HEAD is still v1.
    head = subprocess.run(
        ["git", "-C", str(remote.user), "rev-parse", "HEAD"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert head == v1


def _health_run(
    tmp_path: Path, nginx: Nginx, health: Health, webhook: Webhook, answers: list[str], default: str
) -> tuple[DaemonProcess, str]:
    health.script([], default="ok")
    remote = _setup(tmp_path, nginx, health_url=health.url, webhook=webhook, progress_deadline="2s")
    daemon = DaemonProcess(remote.user, "--interval", "0.2s", env={"TEST_WEBHOOK_URL": webhook.url})
    daemon.wait_until(complete, what="v1 complete")
    health.script(answers, default=default)
    remote.author.bundle(prompt="v2 prompt\n")
    remote.author.commit("v2")
    return daemon, remote.push()


@pytest.fixture
def health() -> Any:
    with running_health() as server:
        yield server


def test_one_flap_does_not_pause(
    tmp_path: Path, nginx: Nginx, health: Health, webhook: Webhook
) -> None:
    daemon, v2 = _health_run(tmp_path, nginx, health, webhook, ["fail"], default="ok")
    try:
        daemon.wait_until(
            lambda s: complete(s) and rollout_of(s)["to_revision"] == v2,
            timeout=30,
            what="v2 complete despite one flap",
        )
        assert "fail" in health.answered
        about_v2 = [a for a in webhook.alerts() if a["revision"] == v2]
        assert not [a for a in about_v2 if a["condition"] in ("paused", "stalled")]
    finally:
        daemon.kill()


def test_steady_failure_pauses_then_stalls_and_alerts(
    tmp_path: Path, nginx: Nginx, health: Health, webhook: Webhook
) -> None:
    daemon, _ = _health_run(tmp_path, nginx, health, webhook, [], default="fail")
    try:
        # ``stalled`` is the verdict as of now; the Stalled condition is recorded by the step
        # that follows it (the JSON carries what the store holds): wait for both.
        stalled = daemon.wait_until(
            lambda s: (
                rollout_of(s).get("stalled") is True
                and any(c["type"] == "Stalled" for c in rollout_of(s)["conditions"])
            ),
            timeout=30,
            what="stalled, and its condition recorded",
        )
        r = rollout_of(stalled)
        assert r["phase"] == "paused"
        assert r["pause"]["by"] == "reconciler" and "canary" in r["pause"]["reason"]
        kinds = {c["type"]: c for c in r["conditions"]}
        assert kinds["Stalled"]["reason"] == "ProgressDeadlineExceeded"
        assert "Reconciling" not in kinds
        alerts = webhook.wait_for(2, timeout=15)
        stall = [a for a in alerts if a["condition"] == "stalled"]
        if not stall:
            stall = [a for a in webhook.wait_for(3, timeout=15) if a["condition"] == "stalled"]
        assert stall and stall[0]["state"] == "firing"
        assert stall[0]["environment"] == "production" and stall[0]["bundle"] == "support-agent"
        assert "canary" in stall[0]["text"]
        _, body = daemon.get("/metrics")
        assert (
            b'reconciler_rollout_stalled{bundle="support-agent",environment="production"} 1.0'
            in body
        )
    finally:
        daemon.kill()


def test_vanished_remote_keeps_the_last_desired_revision(tmp_path: Path, nginx: Nginx) -> None:
    remote = _setup(tmp_path, nginx)
    daemon = DaemonProcess(remote.user, "--interval", "0.2s")
    try:
        first = daemon.wait_until(complete, what="v1 complete")
        shutil.rmtree(remote.origin)
        gone = daemon.wait_until(
            lambda s: bool(s["daemon"]["git_fetch_error"]), what="fetch failure seen"
        )
        assert gone["desired"]["revision"] == first["desired"]["revision"]
        assert gone["summary"]["in_sync"] == 4
        assert daemon.get("/healthz")[0] == 200
        daemon.wait_for_lines(lambda line: line.get("event") == "git_fetch_failed")
        _, body = daemon.get("/metrics")
        assert b"reconciler_git_fetch_ok" in body or b"git_fetch" in body
    finally:
        daemon.kill()
