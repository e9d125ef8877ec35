"""``reconciler audit --format json`` loads only what the fleet needs (issue 15).

Heavy modules cost more to import than an audit of a thousand targets takes to fetch them
(performance.md): none of them may load for a fleet of file and HTTP targets. Once the
inventory and the desired render are cached (any audit before this one), neither the YAML parser
nor pydantic loads either: the audit sends its first request with click, aiohttp and its own
modules alone.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.servers.nginx import Nginx
from tests.support.configrepo import ConfigRepo, with_temperature

#: Never for file and HTTP targets: AWS, GitPython, a diff engine, another HTTP client, the page's
#: templates, the terminal's tables.
HEAVY = ("boto3", "botocore", "git", "deepdiff", "requests", "jinja2", "rich")
#: Not once the inventory and the desired render are cached.
VALIDATING = ("pydantic", "ruamel")

CODE = """
import json, sys
from reconciler.cli import main
try:
    main(["--repo", sys.argv[1], "audit", "--env", "production", "--format", "json"])
except SystemExit:
    pass
names = set(sys.modules)
print(json.dumps(sorted({m.split(".")[0] for m in names})), file=sys.stderr)
"""


@pytest.fixture
def fleet(tmp_path: Path, nginx: Nginx) -> Path:
    """Two file targets and three HTTP targets (nginx); one HTTP target runs another
    temperature (drifted: a diff is made, of the model's parameters only)."""
    repo = ConfigRepo(tmp_path / "config")
    repo.bundle()
    repo.commit("v1")
    body = repo.render().to_bytes()
    drifted = with_temperature(body, 0.9)
    served = tmp_path / "served"
    lines = []
    for i in range(3):
        doc = drifted if i == 0 else body
        (served / f"h{i}").mkdir(parents=True)
        (served / f"h{i}" / "support-agent.json").write_bytes(doc)
        lines.append(
            f"  - {{name: h{i}, source: {{type: http, url: '{{base}}h{i}/{{bundle}}.json'}}}}"
        )
    for i in range(2):
        repo.write(f"fleet/f{i}/support-agent.json", body)
        lines.append(
            f"  - {{name: f{i}, source: {{type: file, path: 'fleet/f{i}/{{bundle}}.json'}}}}"
        )
    base = nginx.serve(served)
    text = "environment: production\nbundles: [support-agent]\ntargets:\n" + "\n".join(lines)
    repo.write("targets/production.yaml", text.replace("{base}", base) + "\n")
    return repo.root


def _audit(fleet: Path) -> tuple[dict[str, object], set[str]]:
    done = subprocess.run(
        [sys.executable, "-c", CODE, str(fleet)], capture_output=True, text=True, check=True
    )
    loaded = set(json.loads(done.stderr.strip().splitlines()[-1]))
    return json.loads(done.stdout), loaded


def test_an_audit_of_file_and_http_targets_loads_no_heavy_module(fleet: Path) -> None:
    cold, loaded = _audit(fleet)
    assert cold["summary"]["in_sync"] == 4 and cold["summary"]["drifted"] == 1, cold["summary"]
    assert sorted(loaded & set(HEAVY)) == []
    warm, loaded = _audit(fleet)
    assert sorted(loaded & set(HEAVY + VALIDATING)) == []
    assert warm["targets"] == cold["targets"] and warm["summary"] == cold["summary"]
