"""A cold audit of a long history with overlays renders each distinct input set once (issue 18).

Renders are counted, not timed: the count is what grows with history depth times overlay targets
when the walk is not proportional to what changed.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from pathlib import Path

import pytest

from reconciler.audit.auditor import Auditor
from reconciler.bundle.gitrepo import GitFiles, GitRepo
from reconciler.bundle.inputs import InputRenders
from reconciler.bundle.render import render
from reconciler.bundle.snapshot import snapshot
from reconciler.statedir import cache_dir
from tests.support.configrepo import inventory
from tests.support.longhistory import BUNDLE, build

COMMITS = 300
NOW = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)


def _inputs(root: Path, sha: str, overlay: str | None) -> tuple[str | None, ...]:
    """The blob ids a render of ``sha`` for ``overlay``'s target reads, from ``git ls-tree``."""
    out = subprocess.run(
        ["git", "-C", str(root), "ls-tree", "-r", sha, "--", BUNDLE],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    blobs = {line.split("\t")[1]: line.split()[2] for line in out.splitlines()}
    wanted = ["bundle.yaml", "prompts/system.md", "tools/write_report.json"]
    if overlay is not None:
        wanted.append(f"overlays/{overlay}.yaml")
    return tuple(blobs.get(f"{BUNDLE}/{name}") for name in wanted)


def _serve(root: Path, git: GitRepo, target: str, sha: str, edit: bool = False) -> None:
    done = render(GitFiles(git, sha), "support-agent", sha, target).to_json()
    if edit:
        done["components"]["model"]["params"]["temperature"] = 0.99
    path = root / "fleet" / target / "support-agent.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(done))


@pytest.fixture(scope="module")
def audited(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str], Auditor]:
    root = tmp_path_factory.mktemp("long") / "repo"
    shas = build(root, COMMITS, ["eu", "us", "ap"])
    git = GitRepo(root)
    _serve(root, git, "eu", shas[0], edit=True)  # hand-edited: matches nothing, walks it all
    _serve(root, git, "us", shas[3])  # three commits behind
    _serve(root, git, "ap", shas[0])  # in sync, with an overlay
    _serve(root, git, "plain", shas[0])  # in sync, no overlay
    git.close()
    targets = [
        {"name": name, "source": {"type": "file", "path": f"fleet/{name}/{{bundle}}.json"}}
        for name in ("eu", "us", "ap", "plain")
    ]
    (root / "targets").mkdir()
    (root / "targets" / "production.yaml").write_text(inventory(targets))
    auditor = Auditor(root, "production", environ={})
    audit = auditor.run(now=NOW)
    statuses = {t.name: t.bundles[0].status.value for t in audit.targets}
    assert statuses == {"eu": "drifted", "us": "lagging", "ap": "in_sync", "plain": "in_sync"}
    return root, shas, auditor


def _renders(root: Path) -> InputRenders:
    return snapshot(root, None, cache_dir(root) / "history.json").history("support-agent").inputs


def test_each_distinct_input_set_is_rendered_once(
    audited: tuple[Path, list[str], Auditor],
) -> None:
    root, shas, _ = audited
    inputs = _renders(root)
    # eu (drifted) walks every past revision; us (3 behind) stops in the first batch of 8; the
    # targets in sync walk nothing. The desired revision without an overlay is rendered once,
    # while git writes the log (the overlays' desired renders are apart: their errors have lines).
    expected = {("eu", *_inputs(root, sha, "eu")) for sha in shas[1:]}
    expected |= {("us", *_inputs(root, sha, "us")) for sha in shas[1:8]}
    expected.add((None, *_inputs(root, shas[0], None)))
    assert inputs.distinct() == len(expected)
    assert inputs.renders == inputs.distinct()
    # Fewer than one per revision: commits that changed only another target's overlay share.
    assert inputs.renders < (COMMITS - 1) + 7


def test_a_second_audit_renders_nothing(audited: tuple[Path, list[str], Auditor]) -> None:
    root, _, auditor = audited
    before = _renders(root).renders
    audit = auditor.run(now=NOW)
    assert audit.counts()["drifted"] == 1
    assert _renders(root).renders == before
