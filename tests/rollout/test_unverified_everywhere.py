"""One desired revision for every command, ``verify:`` included (issue "Hardening, round 3"):
after an unsigned commit, ``converge`` stays at the last signed one — and two hours later
``audit``, ``skew``, ``plan`` and the daemon agree: in sync, with one ``unverified`` finding,
never lagging, never a stall."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.daemon.support import DaemonProcess
from tests.rollout.test_signed_revisions import _commit, key  # noqa: F401 (a fixture)
from tests.support.cli import reconciler
from tests.support.configrepo import ConfigRepo, inventory


def test_an_unsigned_head_is_an_unverified_finding_never_a_stall(
    tmp_path: Path,
    key: tuple[Path, str],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    private, public = key
    repo = ConfigRepo(tmp_path / "config")
    repo.bundle()
    repo.write(".reconciler-signers", f"alice@example.com {public}\n")
    targets = [{"name": n, "source": {"type": "file", "path": f"fleet/{n}.json"}} for n in "abc"]
    extra = {"verify": {"allowed_signers": ".reconciler-signers"}}
    repo.write("targets/production.yaml", inventory(targets, **extra))
    repo.write(".gitignore", "fleet/\n")
    (repo.root / "fleet").mkdir()
    signed = _commit(repo, "v1, signed", private)
    assert reconciler("--repo", repo.root, "converge", "--env", "production").code == 0

    repo.bundle(prompt="v2: nobody signed this\n")
    unsigned = _commit(repo, "v2, unsigned", None)
    converged = reconciler("--repo", repo.root, "converge", "--env", "production")
    assert converged.code == 2 and "Unverified" in converged.err, converged.out + converged.err

    later = {"RECONCILER_NOW": str(time.time() + 2 * 3600)}  # past any progress deadline
    audit = reconciler(
        "--repo", repo.root, "audit", "--env", "production", "--format", "json", env=later
    )
    assert audit.code == 0, audit.out + audit.err
    document = audit.json()
    assert document["desired"]["revision"] == signed
    assert {t["status"] for t in document["targets"]} == {"in_sync"}
    codes = [f["code"] for f in document["findings"]]
    assert codes.count("unverified") == 1 and "stalled" not in codes
    [finding] = [f for f in document["findings"] if f["code"] == "unverified"]
    assert finding["level"] == "warning" and unsigned[:7] in finding["message"]
    assert (
        "no signature" in finding["message"] and f"{signed[:7]} stays desired" in finding["message"]
    )
    strict = reconciler(
        "--repo", repo.root, "audit", "--env", "production", "--fail-on", "unverified", env=later
    )
    assert strict.code == 2, "--fail-on unverified makes it fail, for those who want that"

    skew = reconciler("--repo", repo.root, "skew", "--env", "production", env=later)
    assert skew.code == 0 and "STALLED" not in skew.out, skew.out + skew.err
    plan = reconciler(
        "--repo", repo.root, "plan", "--env", "production", "--format", "json", env=later
    )
    assert plan.code == 0, plan.out + plan.err
    assert "unverified" in [f["code"] for f in json.loads(plan.out)["findings"]]

    daemon = DaemonProcess(repo.root, "--interval", "5s")
    try:
        status = daemon.wait_until(lambda s: "desired" in s, what="the first audit")
    finally:
        daemon.terminate()
    assert status["desired"]["revision"] == signed
    assert status["summary"]["in_sync"] == status["summary"]["targets"] == 3
    assert "unverified" in [f["code"] for f in status["findings"]]
