"""``reconciler audit`` end to end on the demo's incident: real git, files, and nginx."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.cli.conftest import ENV, Fleet
from tests.support.cli import reconciler


def _changes(fleet: Fleet, component: str) -> list[dict[str, Any]]:
    """Every change to ``component`` in the fleet's audit JSON."""
    run = reconciler(
        "--repo", fleet.root, "audit", "--env", "production", "--format", "json", env=ENV
    )
    return [
        change
        for target in run.json()["targets"]
        for bundle in target["bundles"]
        for change in bundle.get("changes", [])
        if change["component"] == component
    ]


def _targets(report: dict) -> dict[str, dict]:
    return {t["name"]: t for t in report["targets"]}


def test_json_report_tells_the_incident(fleet: Fleet) -> None:
    run = reconciler(
        "--repo", fleet.root, "audit", "--env", "production", "--format", "json", env=ENV
    )
    assert run.code == 2, run.err
    report = run.json()
    assert report["schema"] == "agent-reconciler.audit/v1"
    assert report["desired"]["revision"] == fleet.shas["v47"]
    assert report["summary"] == {
        "targets": 9,
        "in_sync": 5,
        "lagging": 2,
        "missing": 0,
        "drifted": 1,
        "invalid": 0,
        "unreachable": 1,
        "coverage": 0.56,
        "stalled": True,
    }
    targets = _targets(report)
    lagging = targets["ap-south-1"]["bundles"][0]
    assert lagging["status"] == "lagging"
    assert lagging["observed_revision"] == fleet.shas["v46"]
    assert lagging["behind"] == 1
    assert lagging["lag_seconds"] == 6 * 3600
    assert lagging["stalled"] is True
    rename = [c for c in lagging["changes"] if c["component"] == "tool/write_report"]
    assert rename and rename[0]["severity"] == "breaking"
    assert "summary -> exec_summary" in rename[0]["summary"]
    assert targets["pop-sin"]["status"] == "drifted"
    assert targets["pop-gru"]["status"] == "unreachable"
    assert "refused" in targets["pop-gru"]["error"]
    assert targets["eu-west-1"]["status"] == "in_sync"  # rendered with its overlay
    codes = {(f["code"], f.get("target")) for f in report["findings"]}
    assert ("stalled", "ap-south-1") in codes
    assert ("misstated_digest", "pop-sin") in codes
    torn = [f["message"] for f in report["findings"] if f["code"] == "torn"]
    v46, v47 = fleet.shas["v46"][:7], fleet.shas["v47"][:7]
    assert torn == [
        f"ap-south-1 runs a torn support-agent: ap-south-1 at v46 ({v46}); "
        f"ap-south-1-prompts at v47 ({v47})"
    ]


def test_desired_digest_matches_render(fleet: Fleet) -> None:
    rendered = reconciler("--repo", fleet.root, "render", "support-agent").json()
    report = reconciler(
        "--repo", fleet.root, "audit", "--env", "production", "--format", "json", env=ENV
    ).json()
    assert report["desired"]["bundles"]["support-agent"]["digest"] == rendered["digest"]
    assert rendered["revision"] == fleet.shas["v47"]


def test_fail_on_policy_decides_the_exit_code(fleet: Fleet) -> None:
    base = ("--repo", fleet.root, "audit", "--env", "production")
    assert reconciler(*base, "--fail-on", "none", env=ENV).code == 0
    assert reconciler(*base, "--fail-on", "missing,invalid", env=ENV).code == 0
    assert reconciler(*base, "--fail-on", "stalled", env=ENV).code == 2
    bad = reconciler(*base, "--fail-on", "drifted,wobbly", env=ENV)
    assert bad.code != 0 and "wobbly" in bad.err


def test_not_stalled_before_the_deadline(fleet: Fleet) -> None:
    # Ten minutes after v47: within progress_deadline (15m) for every wave.
    early = ENV | {"RECONCILER_NOW": "2026-11-25T03:10:00+00:00"}
    report = reconciler(
        "--repo", fleet.root, "audit", "--env", "production", "--format", "json", env=early
    ).json()
    assert report["summary"]["stalled"] is False
    assert _targets(report)["ap-south-1"]["bundles"][0]["lag_seconds"] == 600


def test_lying_target_is_judged_by_content(fleet: Fleet) -> None:
    # ap-south-1 serves v46 content but claims v47's revision and digests.
    current = json.loads(fleet.doc("us-east-1").read_text())
    lying = json.loads(fleet.doc("ap-south-1").read_text())
    lying.update(
        revision=current["revision"],
        digest=current["digest"],
        component_digests=current["component_digests"],
    )
    fleet.doc("ap-south-1").write_text(json.dumps(lying))
    report = reconciler(
        "--repo", fleet.root, "audit", "--env", "production", "--format", "json", env=ENV
    ).json()
    target = _targets(report)["ap-south-1"]
    assert target["status"] == "lagging"
    assert target["bundles"][0]["observed_revision"] != current["revision"]


def test_skew_table_and_diff(fleet: Fleet) -> None:
    skew = reconciler("--repo", fleet.root, "skew", "--env", "production", env=ENV)
    assert skew.code == 2
    assert "STALLED" in skew.out and "ap-south-1" in skew.out and "6h00m" in skew.out
    diff = reconciler("--repo", fleet.root, "diff", "--env", "production", "ap-south-1", env=ENV)
    assert "summary -> exec_summary" in diff.out
    assert "tool/write_report" in diff.out
    unknown = reconciler("--repo", fleet.root, "diff", "--env", "production", "nope", env=ENV)
    assert unknown.code == 1 and "no target named nope" in unknown.err


def test_markdown_and_github_formats(fleet: Fleet, tmp_path) -> None:
    md = reconciler(
        "--repo", fleet.root, "audit", "--env", "production", "--format", "markdown", env=ENV
    )
    assert "| ap-south-1 | region |" in md.out and "**FAIL**" in md.out
    summary = tmp_path / "summary.md"
    gh = reconciler(
        "--repo",
        fleet.root,
        "audit",
        "--env",
        "production",
        "--format",
        "github",
        env=ENV | {"GITHUB_STEP_SUMMARY": str(summary)},
    )
    assert gh.code == 2
    assert "| ap-south-1 | region |" in summary.read_text()
    # Exactly the contract's form: ::error file=bundles/<bundle>/<file>,line=<n>::<message>
    pointed = re.compile(r"::(error|warning) file=(bundles/support-agent/[^,]+),line=(\d+)::.+")
    annotated = [m for m in map(pointed.fullmatch, gh.out.splitlines()) if m]
    tool = [m for m in annotated if m[2] == "bundles/support-agent/tools/write_report.json"]
    assert tool and tool[0][1] == "error", gh.out
    source = (fleet.root / "bundles/support-agent/tools/write_report.json").read_text()
    assert '"exec_summary"' in source.splitlines()[int(tool[0][3]) - 1]
    # A prompt change points at its first changed line, not at the top of the file.
    prompt = [m for m in annotated if m[2] == "bundles/support-agent/prompts/system.md"]
    assert prompt, gh.out
    text = (fleet.root / "bundles/support-agent/prompts/system.md").read_text().splitlines()
    changes = _changes(fleet, "prompt/system")
    changed = {e[2:] for c in changes for e in c["lines"] if e.startswith("+ ")}
    assert text[int(prompt[0][3]) - 1] in changed
