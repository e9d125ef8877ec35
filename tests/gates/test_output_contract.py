"""The output contract (issue 13, item 2) against a real HTTP outputs endpoint: ``audit`` reads
each target's recent outputs and validates them with jsonschema against the output schemas of
the revision the target runs; a broken contract is an error finding even on an in-sync target."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.gates.contract import check
from reconciler.gates.outputs import sample
from reconciler.sources.interface import InvalidResponse, NotFound, TransientError
from reconciler.sources.rest import HttpClient
from tests.servers.outputs import OutputsServer, line, reports, running_outputs
from tests.servers.process import free_port
from tests.support.agentrepo import AgentRepo, file_target, report_schema
from tests.support.cli import Run, reconciler

DRAFT7 = "http://json-schema.org/draft-07/schema#"


@pytest.fixture
def outputs() -> Iterator[OutputsServer]:
    with running_outputs() as server:
        yield server


def in_sync_repo(tmp_path: Path, url: str, **outputs: Any) -> AgentRepo:
    """One region, in sync, whose outputs are at ``url``."""
    repo = AgentRepo(tmp_path / "config")
    repo.agent()
    repo.targets([file_target("us-east-1", outputs={"url": url, **outputs})])
    repo.commit("v1")
    repo.place("us-east-1")
    return repo


def audit(repo: AgentRepo) -> tuple[Run, dict[str, Any]]:
    run = reconciler("--repo", repo.root, "audit", "--env", "production", "--format", "json")
    assert run.code in (0, 2), run.err
    return run, run.json()


def findings(report: dict[str, Any], code: str) -> list[dict[str, Any]]:
    return [f for f in report["findings"] if f["code"] == code]


def test_a_model_renaming_a_field_breaks_the_contract_of_an_in_sync_target(
    tmp_path: Path, outputs: OutputsServer
) -> None:
    # 72 outputs renamed summary -> exec_summary, 2 dropped it, 126 kept it: 37% invalid.
    dropped = [line({"sentiment": "neutral"})] * 2
    outputs.serve("us", reports(72, renamed=72) + dropped + reports(126))
    repo = in_sync_repo(tmp_path, outputs.url("us"), sample=200, max_invalid="1%")
    run, report = audit(repo)
    assert run.code == 2
    assert report["targets"][0]["status"] == "in_sync"  # the config is right
    (broken,) = findings(report, "output_contract")
    assert broken["level"] == "error" and broken["target"] == "us-east-1"
    assert broken["bundle"] == "support-agent"
    assert broken["message"] == (
        "output_schema/report: 37% of 200 outputs miss required property `summary`; "
        "36% carry undeclared `exec_summary` (37% invalid, above max_invalid 1%)"
    )
    text = reconciler("--repo", repo.root, "audit", "--env", "production")
    assert text.code == 2 and "FAIL: output contract broken" in text.out
    lenient = reconciler(
        "--repo", repo.root, "audit", "--env", "production", "--fail-on", "drifted"
    )
    assert lenient.code == 0  # a finding the policy may leave out, like any other


def test_invalid_outputs_within_max_invalid_pass(tmp_path: Path, outputs: OutputsServer) -> None:
    outputs.serve("us", reports(1, renamed=1) + reports(199))  # 0.5% invalid
    run, report = audit(in_sync_repo(tmp_path, outputs.url("us")))  # max_invalid: 1% default
    assert run.code == 0, run.out
    assert findings(report, "output_contract") == []


def test_only_the_newest_sample_lines_are_read(tmp_path: Path, outputs: OutputsServer) -> None:
    # The 50 newest are good; the 950 older ones broke: a sample of 50 reads only the good ones.
    outputs.serve("us", reports(50) + reports(950, renamed=950))
    _, report = audit(in_sync_repo(tmp_path, outputs.url("us"), sample=50))
    assert findings(report, "output_contract") == [], report["findings"]
    outputs.serve("us", reports(49) + reports(951, renamed=951))
    _, report = audit(in_sync_repo(tmp_path / "again", outputs.url("us"), sample=50))
    (broken,) = findings(report, "output_contract")
    assert "2% of 50 outputs" in broken["message"]


def test_a_line_naming_a_schema_the_bundle_lacks_is_invalid(
    tmp_path: Path, outputs: OutputsServer
) -> None:
    outputs.serve("us", [line({"summary": "x"}, schema="summary_v2")] * 3 + reports(7))
    _, report = audit(in_sync_repo(tmp_path, outputs.url("us")))
    (broken,) = findings(report, "output_contract")
    assert broken["message"].startswith(
        "output_schema/summary_v2: 30% of 10 outputs name an output schema the bundle lacks"
    )


def test_outputs_are_checked_against_the_revision_the_target_runs(
    tmp_path: Path, outputs: OutputsServer
) -> None:
    repo = in_sync_repo(tmp_path, outputs.url("us"))
    repo.agent(schema=report_schema("exec_summary"))
    repo.commit("v2: rename summary -> exec_summary")  # us-east-1 still runs v1
    outputs.serve("us", reports(20))  # what v1's agent emits: summary
    _, report = audit(repo)
    assert report["targets"][0]["status"] == "lagging"
    assert findings(report, "output_contract") == []  # v1's schema, not desired's
    outputs.serve("us", reports(20, renamed=20))
    _, report = audit(repo)
    (broken,) = findings(report, "output_contract")
    assert "miss required property `summary`" in broken["message"]


def test_a_draft_07_schema_is_judged_by_draft_07(tmp_path: Path, outputs: OutputsServer) -> None:
    # ``dependencies`` is draft-07's; 2020-12 ignores it (it has dependentRequired instead).
    schema = report_schema(dependencies={"order_number": ["follow_up"]}) | {"$schema": DRAFT7}
    repo = AgentRepo(tmp_path / "config")
    repo.agent(schema=schema)
    repo.targets([file_target("us-east-1", outputs={"url": outputs.url("us")})])
    repo.commit("v1")
    repo.place("us-east-1")
    order = {"summary": "x", "sentiment": "neutral", "order_number": "1234"}
    outputs.serve("us", [line(order)] * 4)
    _, report = audit(repo)
    (broken,) = findings(report, "output_contract")
    assert "100% of 4 outputs fail `dependencies`" in broken["message"]
    modern = dict(schema, **{"$schema": "https://json-schema.org/draft/2020-12/schema"})
    assert not check([line(order)], {"report": ("b", modern)}, 0.01).broken


def test_outputs_that_cannot_be_read_are_a_warning_not_a_pass(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/outputs"
    _, report = audit(in_sync_repo(tmp_path, url))
    assert findings(report, "output_contract") == []
    (unchecked,) = findings(report, "outputs_unchecked")
    assert unchecked["level"] == "warning"
    assert "connection refused" in unchecked["message"]
    assert url not in json.dumps(report)  # a URL may carry a secret


def test_validate_warns_of_an_unset_variable_in_an_outputs_url(tmp_path: Path) -> None:
    repo = in_sync_repo(tmp_path, "https://${SIDECAR_HOST}/outputs")
    run = reconciler("--repo", repo.root, "validate")
    assert run.code == 0, run.err
    assert "environment variable SIDECAR_HOST is not set" in run.err


# --- the endpoint reader, bounded -------------------------------------------------------------


def read(url: str, lines: int, max_bytes: int = 1 << 20) -> list[bytes]:
    async def go() -> list[bytes]:
        client = HttpClient()
        try:
            return await sample(
                client, url, headers={}, timeout=2.0, lines=lines, max_bytes=max_bytes
            )
        finally:
            await client.close()

    return asyncio.run(go())


def test_the_reader_stops_at_its_sample_and_its_byte_cap(outputs: OutputsServer) -> None:
    outputs.serve("many", reports(5000))
    assert read(outputs.url("many"), 10) == reports(10)
    outputs.serve("endless", reports(10), hang=True)  # more is announced, none comes in time
    assert read(outputs.url("endless"), 10) == reports(10)  # no waiting for the rest
    capped = read(outputs.url("many"), 5000, max_bytes=200_000)
    assert 0 < len(capped) < 5000 and capped == reports(len(capped))
    outputs.serve("huge", [b'{"schema": "report", "output": "' + b"x" * 300_000 + b'"}'])
    with pytest.raises(InvalidResponse, match="no complete line within"):
        read(outputs.url("huge"), 10, max_bytes=200_000)
    with pytest.raises(NotFound):
        read(outputs.url("nobody"), 10)
    with pytest.raises(TransientError, match="connection refused"):
        read(f"http://127.0.0.1:{free_port()}/x", 10)


# --- in a rollout: a bake gate ------------------------------------------------------------------

NEW_MODEL = "2025-08-07"


def test_the_canarys_outputs_breaking_pause_the_rollout_at_the_canary(
    tmp_path: Path, outputs: OutputsServer
) -> None:
    repo = AgentRepo(tmp_path / "config")
    repo.agent()
    canary = file_target("canary", outputs={"url": outputs.url("canary"), "sample": 50})
    repo.targets(
        [canary, file_target("eu"), file_target("us")],
        rollout={
            "waves": [
                {"name": "canary", "targets": ["canary"], "bake": "10m"},
                {"name": "rest", "targets": ["*"]},
            ],
            "progress_deadline": "15m",
        },
    )
    repo.commit("v1")
    for name in ("canary", "eu", "us"):
        repo.place(name)
    # What the canary's agent emits follows the model it runs: the new one renames a field.
    outputs.serve(
        "canary", lambda: reports(50, renamed=20 if repo.runs_version("canary") == NEW_MODEL else 0)
    )
    repo.agent(version=NEW_MODEL)
    repo.commit("v2: model version only")
    plan = reconciler("--repo", repo.root, "plan", "--env", "production", "--base", "HEAD~1")
    assert plan.code == 0  # the config diff sees nothing breaking: a behavioral model bump

    run = reconciler("--repo", repo.root, "converge", "--env", "production", timeout=90)
    assert run.code == 2, run.out + run.err
    reason = (
        "output_contract failed on canary: output_schema/report: 40% of 50 outputs miss "
        "required property `summary`; 40% carry undeclared `exec_summary` "
        "(40% invalid, above max_invalid 1%)"
    )
    assert f"AnalysisFailed: paused by reconciler: {reason}" in run.out
    assert "apply support-agent -> canary" in run.out
    assert "-> eu" not in run.out and "-> us" not in run.out
    assert [repo.runs_version(n) for n in ("canary", "eu", "us")] == [
        NEW_MODEL,
        "2025-04-14",
        "2025-04-14",
    ]
    audit = reconciler("--repo", repo.root, "audit", "--env", "production", "--format", "json")
    (broken,) = [f for f in audit.json()["findings"] if f["code"] == "output_contract"]
    assert broken["target"] == "canary"
