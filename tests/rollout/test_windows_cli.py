"""design §14 through the real CLI: a holiday freeze holds converge (WaitingForWindow, with
when it opens in the window's zone) and is not a stall; a rollback goes through it with
``rollback: always`` and is refused with ``rollback: in_window``."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from tests.support.cli import Run, reconciler
from tests.support.configrepo import T0, ConfigRepo, inventory


def _at(repo: ConfigRepo, when: dt.datetime, *args: str) -> Run:
    return reconciler("--repo", repo.root, *args, env={"RECONCILER_NOW": when.isoformat()})


def _freeze(rollback: str) -> dict[str, object]:
    start = (T0 - dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    end = (T0 + dt.timedelta(days=10)).strftime("%Y-%m-%dT00:00")
    return {
        "timezone": "Europe/Berlin",
        "deny": [{"from": start, "to": end, "reason": "holiday freeze"}],
        "rollback": rollback,
        "max_wait": "30d",
    }


@pytest.mark.parametrize("rollback", ["always", "in_window"])
def test_a_freeze_holds_converge_and_rollback_goes_through_it_unless_in_window(
    tmp_path: Path, rollback: str
) -> None:
    repo = ConfigRepo(tmp_path / "config")
    repo.bundle()
    targets = [{"name": "a", "source": {"type": "file", "path": "fleet/a.json"}}]
    policy = {"progress_deadline": "30m"}
    repo.write(
        "targets/production.yaml", inventory(targets, rollout=policy, windows=_freeze(rollback))
    )
    repo.write(".gitignore", "fleet/\n")
    v0 = repo.commit("v0", T0 - dt.timedelta(days=3))
    repo.write("fleet/a.json", reconciler("--repo", repo.root, "render", "support-agent").out)
    repo.bundle(prompt="v1\n")
    repo.commit("v1", T0)
    before = (repo.root / "fleet/a.json").read_text()

    run = _at(repo, T0, "converge", "--env", "production")
    assert run.code == 2
    opens = (T0 + dt.timedelta(days=10)).strftime("%a %Y-%m-%d 00:00 Europe/Berlin")
    assert f"WaitingForWindow: holiday freeze; opens {opens}" in run.out
    plan = _at(repo, T0, "plan", "--env", "production").out
    assert f"would wait: WaitingForWindow: holiday freeze; opens {opens}" in plan
    assert (repo.root / "fleet/a.json").read_text() == before
    # Days later, far past the 30m deadline: held, not stalled (audit's verdict as of now).
    report = _at(
        repo, T0 + dt.timedelta(days=5), "audit", "--env", "production", "--format", "json"
    )
    assert report.json()["summary"]["stalled"] is False

    done = _at(repo, T0 + dt.timedelta(hours=1), "rollback", "--env", "production", "--to", v0)
    if rollback == "always":
        assert done.code == 0, done.err
    else:
        assert done.code == 2
        assert "rollback refused: windows.rollback is in_window: holiday freeze" in done.err
