"""The trail end to end: mutating commands record who, why and how it ended; ``require_reason``;
``reconciler events`` as text, JSON and CDEvents (validated against the CDEvents and CloudEvents
schemas); and the bad ``alerts:`` input each a one-line message."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.alerts.schemas import check_cloudevent
from tests.support.cli import Run, reconciler
from tests.support.configrepo import ConfigRepo, inventory

T0 = 1_800_000_000


def _repo(root: Path, **extra: object) -> ConfigRepo:
    repo = ConfigRepo(root)
    repo.bundle()
    targets = [
        {"name": "a", "kind": "region", "source": {"type": "file", "path": "fleet/a.json"}},
        {"name": "b", "kind": "region", "source": {"type": "file", "path": "fleet/b.json"}},
    ]
    repo.write("targets/production.yaml", inventory(targets, **extra))
    repo.write(".gitignore", "fleet/\n")
    (repo.root / "fleet").mkdir()
    repo.commit("v1")
    return repo


def _run(repo: ConfigRepo, *args: str, at: int = 0, **env: str) -> Run:
    return reconciler("--repo", repo.root, *args, env={"RECONCILER_NOW": str(T0 + at), **env})


def _sha(repo: ConfigRepo, rev: str = "HEAD") -> str:
    done = subprocess.run(
        ["git", "-C", str(repo.root), "rev-parse", rev], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def _one_line_error(run: Run, *needles: str) -> None:
    assert run.code == 1, (run.out, run.err)
    lines = [line for line in run.err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in run.err, run.err
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_rollback_without_a_reason_under_require_reason_writes_nothing(tmp_path: Path) -> None:
    repo = _repo(tmp_path / "config", require_reason=True)
    first = _sha(repo)
    assert _run(repo, "converge", "--env", "production").code == 0
    repo.bundle(prompt="v2\n")
    repo.commit("v2")
    assert _run(repo, "converge", "--env", "production", at=10).code == 0
    state = repo.root / ".reconciler" / "state.db"
    fleet = {p: p.read_bytes() for p in (repo.root / "fleet").rglob("*") if p.is_file()}
    before = (state.stat().st_mtime_ns, state.read_bytes())

    for args in (
        ("rollback", "--env", "production", "--to", first),
        ("rollout", "abort", "--env", "production"),
        ("rollout", "resume", "--env", "production", "--reason", "  "),
    ):
        run = _run(repo, *args, at=20)
        _one_line_error(run, "--reason is required", "require_reason: true", "nothing was done")
    assert (state.stat().st_mtime_ns, state.read_bytes()) == before  # not a byte written
    assert {p: p.read_bytes() for p in (repo.root / "fleet").rglob("*") if p.is_file()} == fleet

    done = _run(
        repo, "rollback", "--env", "production", "--to", first, "--reason", "v2 answers in French",
        at=30, RECONCILER_ACTOR="oncall@example.com",
    )  # fmt: skip
    assert done.code == 0, done.err
    trail = json.loads(_run(repo, "events", "--env", "production", "--format", "json", at=40).out)
    last = trail["events"][-1]
    assert (last["command"], last["by"], last["reason"], last["outcome"]) == (
        "rollback",
        "oncall@example.com",
        "v2 answers in French",
        "succeeded",
    )
    assert last["to"] == first and last["bundles"] == ["support-agent"]


def test_every_mutating_command_leaves_one_event_and_cdevents_validate(tmp_path: Path) -> None:
    repo = _repo(tmp_path / "config")
    first = _sha(repo)
    steps = [
        ("converge", "--env", "production", "--as", "alice@example.com", "--reason", "release 1"),
        ("rollout", "pause", "--env", "production", "--as", "bob", "--reason", "latency"),
        ("rollout", "resume", "--env", "production", "--as", "bob", "--reason", "fixed"),
    ]
    for number, args in enumerate(steps):
        assert _run(repo, *args, at=number).code == 0
    repo.bundle(prompt="v2\n")
    repo.commit("v2")
    assert _run(repo, "converge", "--env", "production", "--as", "alice", at=5).code == 0
    rolled = _run(repo, "rollback", "--env", "production", "--to", first, "--as", "carol", at=6)
    assert rolled.code == 0
    render = json.loads(_run(repo, "render", "support-agent").out)
    digest = render["digest"]
    recorded = _run(
        repo, "eval", "record", "--env", "production", "--digest", digest, "--result", "passed",
        "--as", "ci-bot", at=7,
    )  # fmt: skip
    assert recorded.code == 0, recorded.err
    assert _run(repo, "rollout", "abort", "--env", "production", "--as", "dave", at=8).code == 0

    text = _run(repo, "events", "--env", "production", at=9)
    assert text.code == 0
    lines = text.out.splitlines()
    assert [line.split()[1:3] for line in lines] == [
        ["alice@example.com", "converge"],
        ["bob", "rollout"],
        ["bob", "rollout"],
        ["alice", "converge"],
        ["carol", "rollback"],
        ["ci-bot", "eval"],
        ["dave", "rollout"],
    ]
    assert "— latency" in lines[1] and "— release 1" in lines[0]

    events = json.loads(
        _run(repo, "events", "--env", "production", "--format", "cdevents", at=9).out
    )
    for event in events:
        check_cloudevent(event)
    types = [e["type"] for e in events]
    assert types == [
        "dev.cdevents.service.deployed.0.3.0",
        "dev.cdeventsx.reconciler-rollout.paused.0.1.0",
        "dev.cdeventsx.reconciler-rollout.resumed.0.1.0",
        "dev.cdevents.service.deployed.0.3.0",
        "dev.cdevents.service.rolledback.0.3.0",
        "dev.cdevents.testsuiterun.finished.0.3.0",
        "dev.cdeventsx.reconciler-rollout.aborted.0.1.0",
    ]
    deployed = events[3]["data"]
    assert deployed["subject"]["content"]["environment"]["id"] == "production"
    assert deployed["subject"]["content"]["artifactId"].startswith(
        "pkg:generic/support-agent@sha256"
    )
    assert deployed["customData"]["by"] == "alice"
    assert len({e["id"] for e in events}) == len(events)

    # --since: only what is newer.
    recent = json.loads(
        _run(repo, "events", "--env", "production", "--since", "2s", "--format", "json", at=9).out
    )
    assert [e["command"] for e in recent["events"]] == ["eval record", "rollout abort"]


def test_who_defaults_to_git_user_email_then_the_actor_variable_wins(tmp_path: Path) -> None:
    repo = _repo(tmp_path / "config")
    subprocess.run(
        ["git", "-C", str(repo.root), "config", "user.email", "dev@example.com"], check=True
    )
    assert _run(repo, "rollout", "pause", "--env", "production").code == 0
    assert _run(repo, "rollout", "pause", "--env", "production", RECONCILER_ACTOR="ops").code == 0
    trail = json.loads(_run(repo, "events", "--env", "production", "--format", "json").out)
    assert [e["by"] for e in trail["events"]] == ["dev@example.com", "ops"]


def test_the_page_timeline_shows_commands_with_their_reasons() -> None:
    from reconciler.page.timeline import timeline

    event = {
        "kind": "command",
        "at": 100.0,
        "data": {
            "command": "rollback",
            "by": "oncall@example.com",
            "reason": "v2 answers in French",
            "outcome": "succeeded",
            "bundles": ["support-agent"],
        },
    }
    [moment] = timeline([event], {}, 160.0)
    assert moment.text == (
        "rollback support-agent by oncall@example.com: succeeded: v2 answers in French"
    )
    assert (moment.word, moment.tone) == ("rollback", "ok")

    # A pause is said once: the rollout's own event carries who and why; its trail event is
    # not repeated beside it.
    pause = {"kind": "pause", "at": 120.0, "data": {"bundle": "support-agent", "by": "bob",
             "reason": "latency"}}  # fmt: skip
    trail = {"kind": "command", "at": 120.0, "data": {"command": "rollout pause", "by": "bob",
             "reason": "latency", "outcome": "succeeded"}}  # fmt: skip
    assert [m.text for m in timeline([pause, trail], {}, 160.0)] == [
        "rollout paused by bob: latency"
    ]


@pytest.mark.parametrize(
    ("alert", "needles"),
    [
        (
            {"type": "slack", "url": "${SLACK}", "on": ["stalled", "exploded"]},
            ["targets/production.yaml:", "unknown condition 'exploded'"],
        ),
        (
            {"type": "github", "repository": "acme", "token": "${GH_TOKEN}"},
            ["targets/production.yaml:", "repository 'acme' must be written as owner/name"],
        ),
        (
            {"type": "pagerduty", "url": "https://events.example.com/"},
            ["targets/production.yaml:", "a pagerduty alert needs routing_key"],
        ),
    ],
)
def test_bad_alerts_are_one_line_errors(
    tmp_path: Path, alert: dict[str, object], needles: list[str]
) -> None:
    repo = _repo(tmp_path / "config", alerts=[alert])
    _one_line_error(_run(repo, "audit", "--env", "production"), *needles)


def test_a_routing_key_written_in_the_file_is_a_warning_never_echoed(tmp_path: Path) -> None:
    key = "0123456789abcdef0123456789abcdef"
    repo = _repo(tmp_path / "config", alerts=[{"type": "pagerduty", "routing_key": key}])
    run = _run(repo, "validate")
    assert run.code == 0, run.err
    assert run.err.splitlines() == [
        "warning: targets/production.yaml: alert 1 (pagerduty): routing_key is not a ${VAR} "
        "reference; secrets belong in the environment"
    ]
    assert key not in run.out + run.err
