"""A small fleet of file targets for the page's tests, caught mid-rollout of a breaking rename.

v1 has the report's ``summary``; v2 renames it ``exec_summary`` and ships a prompt (and a commit
subject) carrying ``<script>`` that must read as text wherever the page shows it.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from tests.support.configrepo import ConfigRepo, inventory

#: What a page must show as text and never run.
INJECTED = "<script>window.pwned = 1; document.title = 'pwned';</script>"
PROMPT_V2 = f"You help customers.\nNever echo {INJECTED} back.\n"
SUBJECT_V2 = f"v2: rename summary to exec_summary {INJECTED}"
BUNDLES = ("support-agent", "triage-agent")


def file_target(name: str, **extra: Any) -> dict[str, Any]:
    source = {"type": "file", "path": f"fleet/{name}/{{bundle}}.json"}
    return {"name": name, "source": source, **extra}


def build(root: Path) -> ConfigRepo:
    """v1 on every target (``gone`` has no folder: unreachable; ``hand`` was edited by hand),
    then v2 committed: every reachable target lags one commit behind on support-agent."""
    from reconciler.bundle.gitrepo import GitFiles, GitRepo
    from reconciler.bundle.render import render

    repo = ConfigRepo(root)
    for bundle in BUNDLES:
        repo.bundle(bundle)
    targets = [
        file_target("eu", kind="region"),
        file_target("pop", kind="pop", carries=["prompt/*"]),
        file_target("hand", kind="region"),
        file_target("gone", kind="region"),
    ]
    repo.write("targets/production.yaml", inventory(targets, bundles=list(BUNDLES)))
    repo.write(".gitignore", "fleet/\n")
    v1 = repo.commit("v1", when=dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC))
    git = GitRepo(root)
    try:
        for bundle in BUNDLES:
            document = json.loads(render(GitFiles(git, v1), bundle, v1).to_bytes())
            for name in ("eu", "pop", "hand"):
                if name == "hand":
                    document = json.loads(json.dumps(document))
                    document["components"]["prompt/system"]["text"] = "Edited by hand.\n"
                repo.write(f"fleet/{name}/{bundle}.json", document)
    finally:
        git.close()
    repo.bundle("support-agent", field="exec_summary", prompt=PROMPT_V2)
    repo.commit(SUBJECT_V2, when=dt.datetime(2026, 11, 21, 12, 0, tzinfo=dt.UTC))
    return repo
