"""A damaged rollout row (issue "Hardening, round 3") is one line naming the store's file and
the rollout, exit 1 — never "internal error"."""

from __future__ import annotations

import sqlite3

import pytest

from tests.cli.test_require_eval import cli
from tests.cli.test_require_eval import repo as repo
from tests.support.agentrepo import AgentRepo


@pytest.mark.parametrize("state", ['{"bundle": ', '{"bundle": "support-agent"}'])
def test_a_damaged_rollout_row_names_the_file(repo: AgentRepo, state: str) -> None:
    assert cli(repo, "converge", "--env", "production", "--timeout", "2s").code == 2
    db = repo.root / ".reconciler" / "state.db"
    with sqlite3.connect(db) as conn:
        assert conn.execute("UPDATE rollouts SET state=?", (state,)).rowcount == 1
    conn.close()
    for args in (("rollout", "status"), ("converge",)):
        run = cli(repo, *args, "--env", "production")
        lines = run.err.strip().splitlines()
        assert run.code == 1, (args, run.out, run.err)
        assert len(lines) == 1 and str(db) in lines[0], (args, run.err)
        assert "rollout of support-agent in production is damaged" in lines[0]
        assert "internal error" not in run.err and "Traceback" not in run.err
