"""The demo a new user runs first, and the CLI's cold start staying light."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.docs.markdown import skew_sample, without_shas
from tests.support.cli import reconciler


def test_demo_shows_the_incident(tmp_path: Path) -> None:
    run = reconciler("demo", "--dir", tmp_path / "demo", timeout=120)
    assert run.code == 0, run.err
    out = run.out
    assert "5 in_sync, 2 lagging, 1 drifted, 1 unreachable" in out
    assert "ap-south-1 runs a torn support-agent" in out
    assert "the agent under test is not the agent in production" in out
    assert "STALLED" in out
    assert "summary -> exec_summary" in out
    assert "- Keep answers short: two paragraphs" in out  # the hand edit, line by line
    assert "Try next" in out and "--serve" in out
    # The README and Getting started show its first step as it prints it (commit ids change
    # with the day the demo's history is written).
    for page in ("README.md", "docs/getting-started.md"):
        shown = skew_sample(page)
        assert shown in without_shas(out), f"{page}: the skew sample is not what make demo prints"
    # The write token is never printed, yet the line that exports it works when pasted.
    (export,) = [line for line in out.splitlines() if "export RECONCILER_DEMO_TOKEN=" in line]
    pasted = subprocess.run(
        ["bash", "-c", f"{export.split('#')[0]}; echo -n $RECONCILER_DEMO_TOKEN"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    token = (tmp_path / "demo" / ".reconciler" / "demo-token").read_text().strip()
    assert pasted.stdout == token and len(token) == 32 and token not in out
    again = reconciler("--repo", tmp_path / "demo", "validate")
    assert again.code == 0, again.err
    model_upgrade_is_caught_by_the_output_contract(out, tmp_path / "demo")
    promotion = out[out.index("12. Production waits for staging's soak") : out.index("Try next")]
    assert "production support-agent" in promotion and "(1h00m of soak left)" in promotion
    assert "staging    support-agent" in promotion
    last = [line for line in promotion.splitlines() if "production support-agent" in line][-1]
    assert last.endswith("1/1 targets (100%), complete")
    # The on-device fleet (issue 23): one old tier lagging, one revoked digest still present.
    fleet = out[out.index("14. The on-device fleet") : out.index("Try next")]
    assert "android/low: 55% d3, 45% d2" in fleet
    assert "adoption_stalled android: 55% of android/low" in fleet
    assert "2.8% of android/mid (212 devices) still run revoked d2" in fleet


def model_upgrade_is_caught_by_the_output_contract(out: str, demo: Path) -> None:
    """The demo's second incident (issue 13)."""
    # v48 changes only model.version: behavioral to the config diff, and its eval passed...
    upgrade = out[out.index("9. A model upgrade") : out.index("Try next")]
    assert "behavioral: model: version 2025-04-14 -> 2025-08-07" in upgrade
    assert "model changed: no eval of sha256:" in upgrade
    assert "rollout.require_eval: no wave starts before a passing one" in upgrade
    assert "recorded in production: eval of sha256:" in upgrade
    # ...but the canary's outputs carry exec_summary: the gate pauses the rollout at one target.
    applied = [line.strip() for line in upgrade.splitlines() if line.strip().startswith("apply ")]
    assert applied == ["apply support-agent -> us-east-1"]
    assert (
        "AnalysisFailed: paused by reconciler: output_contract failed on us-east-1: "
        "output_schema/report: 37% of 200 outputs miss required property `summary`; "
        "36% carry undeclared `exec_summary`"
    ) in upgrade
    assert "PAUSED by reconciler at wave 1/3" in upgrade
    fleet = demo / "fleet"
    runs = {
        path.parent.name: json.loads(path.read_text())["components"]["model"]["version"]
        for path in fleet.glob("**/support-agent.json")
        if path.parent.parent.name in ("http", "fleet")
    }
    assert runs.pop("us-east-1") == "2025-08-07"
    assert set(runs.values()) == {"2025-04-14"}, runs  # no other region received v48


def test_demo_refuses_a_foreign_folder(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine\n")
    run = reconciler("demo", "--dir", tmp_path)
    assert run.code == 1
    assert (tmp_path / "notes.txt").read_text() == "mine\n"


def test_help_imports_only_click() -> None:
    code = (
        "import sys\n"
        "from reconciler.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = {'aiohttp', 'pydantic', 'git', 'rich', 'ruamel', 'jinja2', 'orjson'}\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().endswith("[]"), out.stdout


def test_the_projects_own_example_config_validates() -> None:
    root = Path(__file__).resolve().parents[2]
    # The example's secrets; unset, each is a warning (validate runs where audit would).
    secrets = ("AGENT_CONFIG_TOKEN", "MLFLOW_TOKEN", "UNLEASH_ADMIN_TOKEN")
    run = reconciler("--repo", root, "validate", env=dict.fromkeys(secrets, "test-secret"))
    assert run.code == 0, run.err
    assert "warning" not in run.err


def test_contract_example_inventory_parses_as_yaml_1_2(tmp_path: Path) -> None:
    # Design §5 writes flow mappings holding URLs; YAML 1.1 (libyaml) rejects them.
    from reconciler.config.inventory import load_inventory

    (tmp_path / "targets").mkdir()
    (tmp_path / "targets" / "production.yaml").write_text(
        "environment: production\nbundles: [support-agent]\ntargets:\n"
        "  - name: us-east-1\n    source:\n      type: http\n"
        "      url: http://127.0.0.1:8081/agents/{bundle}.json\n"
        "    health: {url: http://127.0.0.1:8081/healthz}\n"
    )
    inventory = load_inventory(tmp_path, "production")
    assert inventory.targets[0].health is not None
    assert inventory.targets[0].health.url == "http://127.0.0.1:8081/healthz"


def test_serving_again_repoints_targets_and_health_checks_to_the_new_port(tmp_path: Path) -> None:
    from reconciler.demo import _repoint

    (tmp_path / "fleet" / "http" / "us-east-1").mkdir(parents=True)
    inventory = tmp_path / "targets" / "production.yaml"
    inventory.parent.mkdir()
    inventory.write_text(
        "    source: {type: http, url: 'http://127.0.0.1:1111/us-east-1/{bundle}.json'}\n"
        '    health: {url: "http://127.0.0.1:1111/health/us-east-1"}\n'
        "    source: {type: http, url: 'http://127.0.0.1:9/pop-gru/{bundle}.json'}\n"
    )
    _repoint(tmp_path, 2222)
    text = inventory.read_text()
    assert "1111" not in text
    assert "127.0.0.1:2222/us-east-1/" in text and "127.0.0.1:2222/health/us-east-1" in text
    assert "127.0.0.1:9/pop-gru/" in text  # the dead POP stays dead
