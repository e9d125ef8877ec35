"""An audit asks each HTTP target once: one GET, on a cold cache and on a warm one (issue 18).

A profile of the realistic fleet counted ``fetch`` about 2.5 times per target: cProfile counts
each resumption of a coroutine as a call. nginx's own log of the /dav/ location is what counts
here: the requests that reached the server, in sync, lagging and drifted targets alike.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from tests.servers.nginx import Nginx
from tests.support.configrepo import ConfigRepo, with_temperature

TARGETS = 12
EXE = Path(sys.executable).parent / "reconciler"


def test_an_audit_sends_one_get_per_target_cold_and_warm(tmp_path: Path, nginx: Nginx) -> None:
    repo = ConfigRepo(tmp_path / "config")
    repo.bundle()
    repo.commit("v1")
    body = repo.render().to_bytes()
    drifted = with_temperature(body, 0.9)
    folder = f"dav/one-request-{tmp_path.name}"
    lines = []
    for i in range(TARGETS):
        served = nginx.root / folder / f"t{i}"
        served.mkdir(parents=True)
        (served / "support-agent.json").write_bytes(drifted if i % 4 == 0 else body)
        url = nginx.url(f"{folder}/t{i}/support-agent.json")
        lines.append(f"  - {{name: t{i}, source: {{type: http, url: '{url}'}}}}")
    repo.write(
        "targets/production.yaml",
        "environment: production\nbundles: [support-agent]\ntargets:\n" + "\n".join(lines) + "\n",
    )
    shutil.rmtree(repo.root / ".reconciler", ignore_errors=True)
    audit = [str(EXE), "--repo", str(repo.root), "audit", "--env", "production"]

    def requests_of_one_audit() -> list[tuple[str, str, int]]:
        before = len(nginx.dav_log())
        done = subprocess.run([*audit, "--format", "json"], capture_output=True, check=False)
        assert done.returncode == 2, done.stderr  # drift found: exit 2
        summary = json.loads(done.stdout)["summary"]
        assert summary["drifted"] == TARGETS // 4 and summary["in_sync"] == TARGETS * 3 // 4
        return [r for r in nginx.dav_log()[before:] if r[1].startswith(f"/{folder}/")]

    cold = requests_of_one_audit()
    assert (repo.root / ".reconciler").is_dir()  # the warm audit below reads its caches
    warm = requests_of_one_audit()
    for seen in (cold, warm):
        assert sorted(seen) == sorted(
            ("GET", f"/{folder}/t{i}/support-agent.json", 200) for i in range(TARGETS)
        )
