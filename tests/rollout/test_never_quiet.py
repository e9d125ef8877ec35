"""A rollout can never go quiet (issue "every way it stops ends in one loud, agreed verdict"):
the cases seen, replayed as a user would, on small config repos with file targets and the real
CLI. Time is pinned with RECONCILER_NOW; nothing sleeps to wait for it."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.servers.health import Health, running_health
from tests.servers.webhook import Webhook
from tests.support.cli import Run, reconciler
from tests.support.configrepo import T0, ConfigRepo, inventory

HOUR = dt.timedelta(hours=1)


@pytest.fixture
def health() -> Iterator[Health]:
    with running_health() as server:
        yield server


class Fleet:
    """A config repo whose targets are files under ``fleet/`` (git-ignored), and a webhook."""

    def __init__(self, root: Path, webhook: Webhook | None = None) -> None:
        self.repo = ConfigRepo(root)
        self.repo.bundle()
        self.webhook = webhook
        self.repo.write(".gitignore", "fleet/\n")
        (self.repo.root / "fleet").mkdir()

    def inventory(self, targets: list[dict[str, Any]], **rollout: Any) -> None:
        policy = {"progress_deadline": "30m", **rollout}
        alerts = [{"type": "webhook", "url": "${TEST_WEBHOOK_URL}"}] if self.webhook else []
        text = inventory(targets, rollout=policy, alerts=alerts)
        self.repo.write("targets/production.yaml", text)

    def at(self, when: dt.datetime, *args: str) -> Run:
        env = {"RECONCILER_NOW": when.isoformat()}
        if self.webhook is not None:
            env["TEST_WEBHOOK_URL"] = self.webhook.url
        return reconciler("--repo", self.repo.root, *args, env=env)

    def audit(self, when: dt.datetime, *args: str) -> tuple[int, dict[str, Any]]:
        run = self.at(when, "audit", "--env", "production", "--format", "json", *args)
        return run.code, run.json()

    def place(self, target: str, revision: str = "HEAD") -> None:
        """Put ``revision``'s render on a file target by hand (no rollout on record)."""
        run = reconciler(
            "--repo", self.repo.root, "render", "support-agent", "--revision", revision
        )
        path = self.repo.root / "fleet" / f"{target}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(run.out)

    def content(self, target: str) -> dict[str, Any]:
        return json.loads((self.repo.root / "fleet" / f"{target}.json").read_text())


def _file(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "kind": "region",
        "source": {"type": "file", "path": f"fleet/{name}.json"},
        **extra,
    }


def _dead(name: str) -> dict[str, Any]:
    # Its folder does not exist: unreachable, and no write can create it ("folder ... does not
    # exist" would be created by the file source, so point it at a folder that is a file).
    return {
        "name": name,
        "kind": "region",
        "source": {"type": "http", "url": "http://127.0.0.1:9/{bundle}.json"},
    }


# --- 1. converge stopped at a health pause: stalled as of now, whoever asks ---------------------


def test_a_pause_nobody_steps_turns_stalled_for_every_consumer(
    tmp_path: Path, health: Health
) -> None:
    fleet = Fleet(tmp_path / "config")
    health.script([], default="fail")
    fleet.inventory(
        [_file("canary", health={"url": health.url, "timeout": "2s"}), _file("eu")],
        waves=[{"name": "canary", "targets": ["canary"]}, {"name": "rest", "targets": ["*"]}],
    )
    fleet.repo.commit("v1", T0)
    paused = fleet.at(T0, "converge", "--env", "production", "--timeout", "10s")
    assert paused.code == 2 and "PAUSED by reconciler" in paused.out, paused.out + paused.err

    later = T0 + HOUR  # past the 30m deadline; nothing stepped the rollout since
    code, report = fleet.audit(later, "--fail-on", "stalled")
    assert (code, report["summary"]["stalled"]) == (2, True)
    assert [f["target"] for f in report["findings"] if f["code"] == "stalled"] == ["canary"]
    status = json.loads(
        fleet.at(later, "rollout", "status", "--env", "production", "--format", "json").out
    )
    assert status["support-agent"]["stalled"] is True
    text = fleet.at(later, "rollout", "status", "--env", "production").out
    assert "STALLED" in text and "past the deadline by 29m" in text


# --- 2. on_stall: rollback always has somewhere to go, or says why not --------------------------


def test_on_stall_rollback_of_the_first_recorded_rollout_puts_targets_back(
    tmp_path: Path, webhook: Webhook
) -> None:
    fleet = Fleet(tmp_path / "config", webhook)
    fleet.inventory([_file("a"), _dead("dead")], on_stall="rollback")
    v1 = fleet.repo.commit("v1", T0)
    fleet.place("a", v1)  # the fleet ran v1 before any rollout was recorded
    fleet.repo.bundle(prompt="v2: a worse prompt\n")
    fleet.repo.commit("v2", T0 + HOUR)

    start = T0 + 2 * HOUR
    assert fleet.at(start, "converge", "--env", "production", "--timeout", "3s").code == 2
    assert fleet.content("a")["revision"] != v1  # a converged to v2

    stalled = fleet.at(start + HOUR, "converge", "--env", "production", "--timeout", "3s")
    assert stalled.code == 2, stalled.out
    assert "revert support-agent -> a" in stalled.out
    assert fleet.content("a")["revision"] == v1, "a is back on what it ran before"
    conditions = {a["condition"]: a["state"] for a in webhook.wait_for(2)}
    assert conditions["stalled"] in ("firing", "resolved")

    code, report = fleet.audit(start + 2 * HOUR)
    assert code == 2 and report["summary"].get("quarantined") is True
    assert report["summary"]["stalled"] is False, "rolled back and held: not a stall"
    assert [f["code"] for f in report["findings"]].count("quarantined") == 1


def test_on_stall_rollback_says_rollback_impossible_when_the_past_is_unknown(
    tmp_path: Path, webhook: Webhook
) -> None:
    fleet = Fleet(tmp_path / "config", webhook)
    fleet.inventory([_file("a"), _dead("dead")], on_stall="rollback")
    fleet.repo.commit("v1", T0)
    (fleet.repo.root / "fleet" / "a.json").write_text('{"hand": "edited"}')  # not a bundle
    fleet.repo.bundle(prompt="v2\n")
    fleet.repo.commit("v2", T0 + HOUR)

    start = T0 + 2 * HOUR
    fleet.at(start, "converge", "--env", "production", "--timeout", "3s")
    v2_on_a = fleet.content("a")
    run = fleet.at(start + HOUR, "converge", "--env", "production", "--timeout", "3s")
    assert run.code == 2
    assert "RollbackImpossible" in run.out
    assert fleet.content("a") == v2_on_a, "nothing was written"
    impossible = [a for a in webhook.wait_for(2) if a["condition"] == "rollback_impossible"]
    assert impossible and impossible[0]["targets"][0]["name"] == "a"
    code, report = fleet.audit(start + HOUR + dt.timedelta(minutes=1))
    assert (code, report["summary"]["stalled"]) == (2, True), "it never says RolledBack"


# --- 3. converge --target T concerns T only -------------------------------------------------------


def test_a_scoped_converge_writes_says_and_alerts_about_its_target_only(
    tmp_path: Path, webhook: Webhook
) -> None:
    fleet = Fleet(tmp_path / "config", webhook)
    fleet.inventory(
        [_file("us"), _file("eu"), _dead("pop")],
        waves=[{"name": "us", "targets": ["us"], "bake": "1h"}, {"name": "rest", "targets": ["*"]}],
    )
    fleet.repo.commit("v1", T0)
    run = fleet.at(T0, "converge", "--env", "production", "--target", "eu", "--timeout", "10s")
    assert run.code == 0, run.out + run.err
    assert "apply support-agent -> eu" in run.out
    assert "-> us" not in run.out and "-> pop" not in run.out
    assert "converged: eu re-fetched with the desired content" in run.out
    assert not (fleet.repo.root / "fleet" / "us.json").exists()
    assert webhook.alerts() == []
    status = fleet.at(T0, "rollout", "status", "--env", "production").out
    assert "no rollout yet" in status, "the environment's rollout record is left as it is"


# --- 4. the skew clock starts when the change reached the branch -------------------------------


def test_a_merged_branch_lags_from_the_merge_not_its_commits(tmp_path: Path) -> None:
    fleet = Fleet(tmp_path / "config")
    fleet.inventory([_file("a")], progress_deadline="2h")
    v1 = fleet.repo.commit("v1", T0)
    fleet.place("a", v1)
    fleet.repo.git("checkout", "-q", "-b", "feature")
    fleet.repo.bundle(prompt="written two days before it was merged\n")
    fleet.repo.commit("v2", T0 + HOUR)
    fleet.repo.git("checkout", "-q", "main")
    merged = T0 + 48 * HOUR
    fleet.repo.git("merge", "-q", "--no-ff", "feature", "-m", "merge v2", when=merged)

    code, report = fleet.audit(merged + HOUR)
    [bundle] = report["targets"][0]["bundles"]
    assert bundle["status"] == "lagging"
    assert bundle["lag_seconds"] == 3600, "since the merge reached main, not the commit's date"
    assert (code, report["summary"]["stalled"]) == (0, False)


def test_a_fast_forward_to_an_old_commit_is_not_old_news_where_state_exists(
    tmp_path: Path,
) -> None:
    fleet = Fleet(tmp_path / "config")
    fleet.inventory([_file("a")], progress_deadline="2h")
    v1 = fleet.repo.commit("v1", T0)
    fleet.repo.git("checkout", "-q", "-b", "feature")
    fleet.repo.bundle(prompt="committed two days ago\n")
    fleet.repo.commit("v2", T0 + HOUR)
    fleet.repo.git("checkout", "-q", "main")
    now = T0 + 48 * HOUR
    assert fleet.at(now, "converge", "--env", "production", "--timeout", "5s").code == 0
    assert fleet.content("a")["revision"] == v1
    fleet.repo.git("merge", "-q", "--ff-only", "feature")  # main now points at v2 (two days old)

    code, report = fleet.audit(now + dt.timedelta(seconds=30))
    assert report["targets"][0]["status"] == "lagging"
    assert report["targets"][0]["bundles"][0]["lag_seconds"] == 0, "first seen just now"
    assert (code, report["summary"]["stalled"]) == (0, False)
    # Without state, git time is all a CI audit knows (the README says so): two days old.
    (fleet.repo.root / ".reconciler" / "state.db").unlink()
    code, report = fleet.audit(now + dt.timedelta(seconds=30))
    assert (code, report["summary"]["stalled"]) == (2, True)


# --- 6. a torn bundle fails the default policy ----------------------------------------------------


def test_a_torn_bundle_alone_fails_the_default_audit(tmp_path: Path) -> None:
    fleet = Fleet(tmp_path / "config")
    fleet.inventory(
        [
            _file("store", group="ap-south-1"),
            {
                **_file("prompts", group="ap-south-1"),
                "kind": "prompt-registry",
                "carries": ["prompt/*"],
            },
        ]
    )
    v46 = fleet.repo.commit("v46", T0)
    fleet.repo.bundle(prompt="v47\n")
    fleet.repo.commit("v47", T0 + HOUR)
    fleet.place("store", v46)
    fleet.place("prompts")
    code, report = fleet.audit(T0 + HOUR + dt.timedelta(minutes=5))  # well within the deadline
    assert report["summary"]["stalled"] is False and report["summary"]["lagging"] == 1
    assert [f["code"] for f in report["findings"]] == ["torn"]
    assert code == 2
    text = fleet.at(T0 + HOUR, "audit", "--env", "production")
    assert text.code == 2 and "FAIL: torn bundle" in text.out


# --- 7. an advisory health check never pauses ----------------------------------------------


@pytest.mark.parametrize("gate", ["advisory", "blocking"])
def test_a_failing_health_check_pauses_only_when_it_is_blocking(
    tmp_path: Path, health: Health, webhook: Webhook, gate: str
) -> None:
    fleet = Fleet(tmp_path / "config", webhook)
    health.script([], default="fail")
    check = {"url": health.url, "timeout": "2s", "gate": gate}
    fleet.inventory(
        [_file("pop", health=check), _file("us")],
        waves=[{"name": "pops", "targets": ["pop"]}, {"name": "rest", "targets": ["*"]}],
    )
    fleet.repo.commit("v1", T0)
    run = fleet.at(T0, "converge", "--env", "production", "--timeout", "10s")
    alerts = {(a["condition"], a["level"]) for a in webhook.wait_for(1)}
    if gate == "advisory":
        assert run.code == 0, run.out + run.err
        assert ("health", "warning") in alerts
        assert (fleet.repo.root / "fleet" / "us.json").exists(), "the next wave went ahead"
    else:
        assert run.code == 2 and "PAUSED" in run.out
        assert ("paused", "error") in alerts
        assert not (fleet.repo.root / "fleet" / "us.json").exists()


# --- 8. a quarantine is its own verdict, not a stall ---------------------------------------


def test_after_a_rollback_the_fleet_is_held_not_stalled(tmp_path: Path) -> None:
    fleet = Fleet(tmp_path / "config")
    fleet.inventory([_file("us"), _file("eu")])
    fleet.repo.commit("v46", T0)
    fleet.repo.git("tag", "v46")
    fleet.repo.bundle(field="exec_summary")
    fleet.repo.commit("v47", T0 + HOUR)
    assert fleet.at(T0 + HOUR, "converge", "--env", "production").code == 0
    back = fleet.at(T0 + 2 * HOUR, "rollback", "--env", "production", "--to", "v46")
    assert back.code == 0, back.out + back.err

    later = T0 + 9 * HOUR  # hours past any deadline
    skew = fleet.at(later, "skew", "--env", "production")
    assert skew.code == 2
    assert "QUARANTINED" in skew.out and "rolled back to v46" in skew.out
    assert skew.out.count("held (quarantined)") == 2
    assert "STALLED" not in skew.out
    code, report = fleet.audit(later)
    assert code == 2
    [finding] = [f for f in report["findings"] if f["code"] == "quarantined"]
    assert finding["level"] == "error" and "rolled back to v46" in finding["message"]
    assert not [f for f in report["findings"] if f["code"] == "stalled"]
