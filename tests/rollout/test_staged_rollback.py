"""Rollback as a switch (design §12), end to end on nginx's WebDAV: targets whose rollback
content is still staged are switched back with a COPY and no upload; keep_staged bounds what is
kept, never the serving copy or the one a rollback needs; a target whose staged copy was
collected falls back to a full write and says so."""

from __future__ import annotations

import json
from itertools import count
from pathlib import Path
from typing import Any

from tests.servers.nginx import Nginx
from tests.support.cli import Run, reconciler
from tests.support.configrepo import ConfigRepo, inventory

TARGETS = 4
_RUNS = count()


def _setup(tmp_path: Path, nginx: Nginx, **policy: Any) -> tuple[ConfigRepo, str]:
    base = f"dav/rollback-{next(_RUNS)}-{tmp_path.name}"
    targets = [
        {
            "name": f"t{i}",
            "kind": "region",
            "source": {
                "type": "http",
                "url": nginx.url(f"{base}/t{i}/{{bundle}}.json"),
                "stage_url": nginx.url(f"{base}/t{i}/{{bundle}}.json.staged/{{digest_hex}}.json"),
                "switch": "copy",
            },
        }
        for i in range(TARGETS)
    ]
    repo = ConfigRepo(tmp_path / "config")
    rollout = {"waves": [{"name": "all", "targets": ["*"]}], **policy}
    repo.write("targets/production.yaml", inventory(targets, rollout=rollout))
    return repo, base


def _run(repo: ConfigRepo, *args: str) -> Run:
    return reconciler("--repo", repo.root, *args, timeout=90)


def _release(repo: ConfigRepo, number: int) -> str:
    repo.bundle(prompt=f"Release {number}: answer briefly.\n")
    sha = repo.commit(f"release {number}")
    done = _run(repo, "converge", "--env", "production", "--timeout", "30s")
    assert done.code == 0, done.out + done.err
    return sha


def _digest(repo: ConfigRepo, sha: str) -> str:
    rendered = _run(repo, "render", "support-agent", "--revision", sha).out
    return str(json.loads(rendered)["digest"]).removeprefix("sha256:")


def test_rollback_of_staged_targets_switches_and_uploads_nothing(
    tmp_path: Path, nginx: Nginx
) -> None:
    repo, _ = _setup(tmp_path, nginx)
    v1 = _release(repo, 1)
    _release(repo, 2)
    seen = len(nginx.dav_log())
    back = _run(repo, "rollback", "--env", "production", "--to", v1)
    assert back.code == 0, back.out + back.err
    assert f"{TARGETS} targets switched back from staged copies" in back.out
    assert "fell back" not in back.out
    during = nginx.dav_log()[seen:]
    assert [m for m, _, _ in during if m not in ("GET", "COPY")] == []  # no PUT: no upload
    assert len([m for m, _, _ in during if m == "COPY"]) == TARGETS
    report = _run(repo, "audit", "--env", "production", "--format", "json").json()
    assert {t["bundles"][0]["observed_revision"] for t in report["targets"]} == {v1}


def test_keep_staged_keeps_the_serving_and_the_rollback_copy_and_a_collected_one_falls_back(
    tmp_path: Path, nginx: Nginx
) -> None:
    repo, base = _setup(tmp_path, nginx, keep_staged=1)
    v1 = _release(repo, 1)
    v2 = _release(repo, 2)
    v3 = _release(repo, 3)
    staged = nginx.root / base / "t0" / "support-agent.json.staged"
    kept = {p.name.removesuffix(".json") for p in staged.iterdir()}
    # Serving (v3) and what it ran before (v2: a rollback's), never more with keep_staged: 1.
    assert kept == {_digest(repo, v3), _digest(repo, v2)}
    report = _run(repo, "audit", "--env", "production", "--format", "json").json()
    listed = {t["name"]: t["staged"] for t in report["targets"]}
    assert sorted(listed["t0"]) == sorted(f"sha256:{d}" for d in kept)

    seen = len(nginx.dav_log())
    back = _run(repo, "rollback", "--env", "production", "--to", v1)
    assert back.code == 0, back.out + back.err
    assert "0 targets switched back from staged copies" in back.out
    for i in range(TARGETS):
        assert f"t{i}: fell back to a full write" in back.out
    puts = [u for m, u, s in nginx.dav_log()[seen:] if m == "PUT"]
    assert sorted(puts) == sorted(f"/{base}/t{i}/support-agent.json" for i in range(TARGETS))
