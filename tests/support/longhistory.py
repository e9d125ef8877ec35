"""A config repo with a long history, made in one ``git fast-import`` (300 commits in ~0.1 s).

One bundle (``support-agent``: bundle.yaml, one prompt, one tool) with per-target overlays. Every
commit touches the bundle folder, as a year of merges does: most rewrite the prompt, every
tenth rewrites bundle.yaml, and every fiftieth (offset 25) rewrites one overlay, in turn.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.support.configrepo import BUNDLE_YAML, tool

BUNDLE = "bundles/support-agent"
T0 = 1_700_000_000


def spec_text(n: int) -> str:
    """bundle.yaml as of commit ``n`` (its token budget changes every tenth commit)."""
    return BUNDLE_YAML.format(name="support-agent").replace("1024", str(1000 + n // 10 * 10))


def prompt_text(n: int, body: str) -> str:
    return f"{body}\nRevision {n}.\n"


def overlay_text(target: str, version: int) -> str:
    return f"# {target}\nmodel:\n  params: {{temperature: 0.{version % 9 + 1}}}\n"


def _file(path: str, data: str) -> str:
    size = len(data.encode())
    return f"M 100644 inline {path}\ndata {size}\n{data}\n"


def build(root: Path, commits: int, overlays: list[str], body: str = "You help.") -> list[str]:
    """The repo at ``root`` (branch ``main``, checked out); its commits' shas, newest first."""
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    stream: list[str] = []
    for n in range(commits):
        stream.append(f"commit refs/heads/main\nmark :{n + 1}\n")
        stream.append(f"committer T <t@example.com> {T0 + n * 3600} +0000\n")
        message = f"change {n}"
        stream.append(f"data {len(message.encode())}\n{message}\n")
        if n == 0:
            stream.append(_file(f"{BUNDLE}/bundle.yaml", spec_text(0)))
            stream.append(_file(f"{BUNDLE}/tools/write_report.json", json.dumps(tool())))
            stream.append(_file(f"{BUNDLE}/prompts/system.md", prompt_text(0, body)))
            for target in overlays:
                stream.append(_file(f"{BUNDLE}/overlays/{target}.yaml", overlay_text(target, 0)))
        elif n % 10 == 0:
            stream.append(_file(f"{BUNDLE}/bundle.yaml", spec_text(n)))
        elif n % 50 == 25 and overlays:
            target = overlays[(n // 50) % len(overlays)]
            stream.append(_file(f"{BUNDLE}/overlays/{target}.yaml", overlay_text(target, n)))
        else:
            stream.append(_file(f"{BUNDLE}/prompts/system.md", prompt_text(n, body)))
        stream.append("\n")
    subprocess.run(
        ["git", "-C", str(root), "fast-import", "--quiet"],
        input="".join(stream).encode(),
        check=True,
    )
    subprocess.run(["git", "-C", str(root), "reset", "-q", "--hard"], check=True)
    out = subprocess.run(
        ["git", "-C", str(root), "rev-list", "HEAD"], capture_output=True, text=True, check=True
    )
    return out.stdout.split()
