"""A config repo for the gate tests (issue 13): a bundle with a report output schema, file
targets under ``fleet/``, and a way to place any revision on a target."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.support.cli import reconciler
from tests.support.configrepo import ConfigRepo, inventory

BUNDLE = """\
apiVersion: agent-reconciler/v1
kind: AgentBundle
name: support-agent
model:
  provider: openai
  name: gpt-4.1
  version: "{version}"
  params: {{temperature: 0.2}}
prompts:
  system: {{file: prompts/system.md}}
output_schemas:
  report: {{schema: schemas/report.json}}
"""


def report_schema(field: str = "summary", **extra: Any) -> dict[str, Any]:
    """The report output schema (draft 2020-12), ``field`` required."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {
            field: {"type": "string"},
            "sentiment": {"type": "string", "enum": ["positive", "neutral", "negative"]},
        },
        "required": [field, "sentiment"],
        **extra,
    }


def file_target(name: str, **extra: Any) -> dict[str, Any]:
    """A region whose config store is ``fleet/<name>/`` in the repo."""
    source = {"type": "file", "path": f"fleet/{name}/{{bundle}}.json"}
    return {"name": name, "kind": "region", "source": source, **extra}


class AgentRepo(ConfigRepo):
    """A :class:`ConfigRepo` holding one agent and file targets."""

    def agent(self, *, version: str = "2025-04-14", schema: dict[str, Any] | None = None) -> None:
        base = "bundles/support-agent"
        self.write(f"{base}/bundle.yaml", BUNDLE.format(version=version))
        self.write(f"{base}/prompts/system.md", "You help customers.\n")
        self.write(f"{base}/schemas/report.json", schema or report_schema())

    def targets(self, targets: list[dict[str, Any]], **extra: Any) -> None:
        self.write("targets/production.yaml", inventory(targets, **extra))
        self.write(".gitignore", "fleet/\n")
        for target in targets:
            (self.root / "fleet" / target["name"]).mkdir(parents=True, exist_ok=True)

    def place(self, target: str, revision: str = "HEAD") -> None:
        """Put ``revision``'s render on the file target ``target``."""
        doc = reconciler("--repo", self.root, "render", "support-agent", "--revision", revision).out
        self.doc(target).write_text(doc)

    def doc(self, target: str) -> Path:
        return self.root / "fleet" / target / "support-agent.json"

    def runs_version(self, target: str) -> str | None:
        """The model version ``target`` holds now (None when it holds nothing)."""
        path = self.doc(target)
        if not path.exists():
            return None
        return str(json.loads(path.read_text())["components"]["model"]["version"])

    def digest(self, revision: str = "HEAD") -> str:
        doc = reconciler("--repo", self.root, "render", "support-agent", "--revision", revision)
        return str(json.loads(doc.out)["digest"])
