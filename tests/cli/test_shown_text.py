"""Text a user or an attacker controls, as it is shown (issue "Hardening, round 3"): an eval's
``--report`` is an http(s) URL of at most 2 KiB and nothing else; bidirectional controls in a
pause reason are shown escaped in the terminal, in JSON and on the daemon's page."""

from __future__ import annotations

import json

from tests.cli.test_require_eval import cli, record
from tests.cli.test_require_eval import repo as repo
from tests.daemon.support import DaemonProcess
from tests.support.agentrepo import AgentRepo

DIGEST = "sha256:" + "ab" * 32
RLO, LRI = "\u202e", "\u2066"


#: What the campaign tried as an eval's report: none is a bounded http(s) URL.
HOSTILE_REPORTS = (
    "javascript:alert(1)",
    "https://ci.example/\x1b[31mred",
    "https://ci.example/a\nb",
    "https://ci.example/" + "a" * 120_000,
    "https://ci.example/<img src=x onerror=alert(1)>",
    f"https://ci.example/{RLO}fdp.exe",
    "ci.example/report",
)


def test_eval_record_takes_only_a_bounded_http_url_as_report(repo: AgentRepo) -> None:
    for report in HOSTILE_REPORTS:
        run = record(repo, DIGEST, "passed", "--report", report)
        assert run.code == 1, (report[:40], run.out + run.err)
        lines = run.err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: --report: "), run.err
        assert "\x1b" not in run.err and RLO not in run.err
        assert not (repo.root / ".reconciler" / "state.db").exists(), "nothing was recorded"


def test_a_report_url_is_recorded(repo: AgentRepo) -> None:
    run = record(repo, DIGEST, "passed", "--report", "https://ci.example/runs/42?tab=evals")
    assert run.code == 0, run.err


def test_bidi_controls_are_shown_escaped_in_the_terminal_json_and_the_page(
    repo: AgentRepo,
) -> None:
    converged = cli(repo, "converge", "--env", "production", "--timeout", "5s")
    assert converged.code == 2  # awaiting an eval: a rollout exists to pause
    reason = f"ops {RLO}txe.kcatta{LRI} done"
    assert cli(repo, "rollout", "pause", "--env", "production", "--reason", reason).code == 0
    shown = cli(repo, "rollout", "status", "--env", "production")
    assert RLO not in shown.out + shown.err and LRI not in shown.out
    assert "\\u202e" in shown.out, shown.out
    as_json = cli(repo, "rollout", "status", "--env", "production", "--format", "json")
    assert RLO not in as_json.out
    assert reason in json.dumps(json.loads(as_json.out), ensure_ascii=False), "JSON reads it back"
    daemon = DaemonProcess(repo.root, "--interval", "5s")
    try:
        daemon.wait_until(lambda s: True, what="the first audit")
        code, page = daemon.get("/")
    finally:
        daemon.terminate()
    assert code == 200
    text = page.decode()
    assert RLO not in text and LRI not in text
    assert "\\u202e" in text, "the reason is on the page, its control shown escaped"


def test_the_escaping_leaves_ordinary_text_alone() -> None:
    from reconciler.display import visible

    assert visible("déjà vu — 日本語\tand\nlines") == "déjà vu — 日本語\tand\nlines"
    assert visible(f"a{RLO}b\x1b[0m") == "a\\u202eb\\u001b[0m"
