"""Build real git config repos for tests: bundles, inventories, commits at chosen times."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from reconciler.bundle.rendered import Rendered

T0 = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)

BUNDLE_YAML = """\
apiVersion: agent-reconciler/v1
kind: AgentBundle
name: {name}
model:
  provider: openai
  name: gpt-4.1
  version: "2025-04-14"
  params: {{temperature: 0.2, max_output_tokens: 1024}}
prompts:
  system: {{file: prompts/system.md}}
tools:
  write_report: {{schema: tools/write_report.json}}
guardrails:
  toxicity: {{threshold: 0.8, action: block}}
"""


def tool(field: str = "summary") -> dict[str, Any]:
    """A tool whose required report field is ``field``."""
    return {
        "name": "write_report",
        "description": "File the end-of-conversation report.",
        "parameters": {
            "type": "object",
            "properties": {field: {"type": "string"}, "sentiment": {"type": "string"}},
            "required": [field, "sentiment"],
        },
    }


class ConfigRepo:
    """A git repo on disk with helpers to write files and commit at a given time."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main")

    def git(self, *args: str, when: dt.datetime | None = None) -> str:
        env = dict(os.environ)
        if when is not None:
            stamp = when.strftime("%Y-%m-%dT%H:%M:%S+0000")
            env.update(GIT_AUTHOR_DATE=stamp, GIT_COMMITTER_DATE=stamp)
        cmd = [
            "git",
            "-C",
            str(self.root),
            "-c",
            "user.name=Test",
            "-c",
            "user.email=test@example.com",
            "-c",
            "commit.gpgsign=false",
            *args,
        ]
        return subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout

    def write(self, rel: str, content: str | dict[str, Any] | bytes) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, dict):
            path.write_text(json.dumps(content, indent=2) + "\n")
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
        return path

    def commit(self, message: str, when: dt.datetime = T0) -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message, when=when)
        return self.git("rev-parse", "HEAD").strip()

    def render(
        self, rev: str = "HEAD", bundle: str = "support-agent", target: str | None = None
    ) -> Rendered:
        """``bundle`` rendered at ``rev`` (as ``target`` sees it), as ``reconciler render``
        makes it: what a target in sync at ``rev`` serves."""
        from reconciler.bundle.gitrepo import GitFiles, GitRepo
        from reconciler.bundle.render import render

        git = GitRepo(self.root)
        try:
            sha = git.commit(rev).hexsha
            return render(GitFiles(git, sha), bundle, sha, target)
        finally:
            git.close()

    def bundle(
        self,
        name: str = "support-agent",
        *,
        prompt: str = "You help customers.\n",
        field: str = "summary",
        temperature: float = 0.2,
        variants: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        """Write a small valid bundle (with ``variants``: one model artifact per device tier)."""
        base = f"bundles/{name}"
        text = BUNDLE_YAML.format(name=name).replace("0.2,", f"{temperature},")
        if variants is not None:
            lines = "".join(f"    {tier}: {json.dumps(v)}\n" for tier, v in variants.items())
            text = text.replace("prompts:\n", f"  variants:\n{lines}prompts:\n", 1)
        self.write(f"{base}/bundle.yaml", text)
        self.write(f"{base}/prompts/system.md", prompt)
        self.write(f"{base}/tools/write_report.json", tool(field))


def inventory(targets: list[dict[str, Any]], **extra: Any) -> str:
    """targets/<env>.yaml text (JSON is valid YAML)."""
    doc = {"environment": "production", "bundles": ["support-agent"], "targets": targets}
    doc.update(extra)
    return json.dumps(doc, indent=2, default=str) + "\n"


def with_temperature(body: bytes, temperature: float) -> bytes:
    """A served rendered bundle with another model temperature: drifted (no revision has it),
    its diff in the model's parameters only."""
    doc = json.loads(body)
    doc["components"]["model"]["params"]["temperature"] = temperature
    return json.dumps(doc).encode()
