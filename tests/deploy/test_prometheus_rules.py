"""The Prometheus alerting rules that watch the reconciler itself (deploy/prometheus/rules.yml).

``promtool check rules`` lints the file; ``promtool test rules`` runs the unit tests in
rules_test.yml, which make every alert fire (exact labels and annotations) and not fire.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from ruamel.yaml import YAML

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
RULES = ROOT / "deploy" / "prometheus" / "rules.yml"
RULES_TEST = HERE / "rules_test.yml"
ALERTS = (
    "ReconcilerDown",
    "ReconcilerRolloutStalled",
    "ReconcilerRolloutPausedPastDeadline",
    "ReconcilerGitFetchFailing",
    "ReconcilerStepsFailing",
)


def run_promtool(promtool: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # cwd elsewhere on purpose: nothing may depend on where pytest was started
    return subprocess.run(
        [str(promtool), *args],
        cwd=HERE,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_rules_pass_promtool_check(promtool: Path) -> None:
    result = run_promtool(promtool, "check", "rules", str(RULES))
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"promtool check rules failed:\n{output}"
    assert "SUCCESS" in output, output


def test_rules_pass_promtool_unit_tests(promtool: Path) -> None:
    result = run_promtool(promtool, "test", "rules", str(RULES_TEST))
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"promtool test rules failed:\n{output}"
    assert "SUCCESS" in output, output


def test_every_alert_is_unit_tested_firing_and_silent() -> None:
    """Each alert is defined, and rules_test.yml both expects it firing and expects silence."""
    yaml = YAML(typ="safe")
    rules = yaml.load(RULES.read_text(encoding="utf-8"))
    defined = {rule["alert"] for group in rules["groups"] for rule in group["rules"]}
    assert defined == set(ALERTS)
    firing: set[str] = set()
    silent: set[str] = set()
    for case in yaml.load(RULES_TEST.read_text(encoding="utf-8"))["tests"]:
        for check in case.get("alert_rule_test", []):
            (firing if check.get("exp_alerts") else silent).add(check["alertname"])
    assert firing == set(ALERTS), f"never expected to fire: {set(ALERTS) - firing}"
    assert silent == set(ALERTS), f"never expected to stay silent: {set(ALERTS) - silent}"
