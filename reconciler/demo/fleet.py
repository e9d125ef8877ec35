"""The demo's config repo (v45 -> v46 -> v47) and its fleet, reproducing the background incident.

v47 renames the report's required ``summary`` to ``exec_summary``; the rollout reached four of
six regions and paused; one POP was hand-edited; one POP is unreachable.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path

from ..bundle.gitrepo import GitFiles, git, repo_at
from ..bundle.render import render
from ..errors import ReconcilerError
from . import devices

BUNDLE = "support-agent"


def example_root() -> Path:
    """The example config shipped with the package (or the source checkout's own)."""
    packaged = Path(__file__).resolve().parents[1] / "_example"
    if (packaged / "bundles" / BUNDLE / "bundle.yaml").is_file():
        return packaged
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "bundles" / BUNDLE / "bundle.yaml").is_file():
        return checkout
    raise FileNotFoundError("the example bundle is not installed with this package")


@dataclass(frozen=True)
class Placement:
    """Where one demo target lives and what it runs."""

    name: str
    kind: str
    transport: str  # http | file | dead
    runs: str  # v46 | v47 | hand-edited
    carries: tuple[str, ...] = ()
    group: str | None = None


FLEET = [
    Placement("us-east-1", "region", "http", "v47"),
    Placement("eu-west-1", "region", "http", "v47"),
    Placement("us-west-2", "region", "file", "v47"),
    Placement("eu-central-1", "region", "file", "v47"),
    Placement("ap-south-1", "region", "http", "v46", group="ap-south-1"),
    Placement("ap-south-1-prompts", "prompt-registry", "file", "v47", ("prompt/*",), "ap-south-1"),
    Placement("ap-northeast-1", "region", "file", "v46"),
    Placement("pop-sin", "pop", "file", "hand-edited", ("prompt/*",)),
    Placement("pop-gru", "pop", "dead", "v47", ("prompt/*",)),
]

#: The region whose (non-load-bearing) health check fails once it runs v47.
UNHEALTHY = "ap-south-1"

# Commit ages, relative to now: v47 shipped six hours ago and never finished.
AGES = {"v45": dt.timedelta(days=9), "v46": dt.timedelta(days=2), "v47": dt.timedelta(hours=6)}


def _git(repo: Path, *args: str, when: dt.datetime | None = None) -> str:
    env = dict(os.environ)
    if when is not None:
        stamp = when.strftime("%Y-%m-%dT%H:%M:%S+0000")
        env.update(GIT_AUTHOR_DATE=stamp, GIT_COMMITTER_DATE=stamp)
    config = ["-c", "user.name=Demo", "-c", "user.email=demo@example.com"]
    config += ["-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false"]
    done = git(repo, *config, *args, env=env, text=True)
    if done.returncode != 0:
        raise ReconcilerError(f"git {args[0]}: {done.stderr.strip() or done.returncode}")
    return done.stdout


def _rewrite(folder: Path, old: str, new: str) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            text = path.read_text()
            if old in text:
                path.write_text(text.replace(old, new))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def inventory_text(port: int, dead_port: int) -> str:
    """targets/production.yaml of the demo fleet."""
    lines = [
        "# The demo fleet: HTTP targets on 127.0.0.1, file targets under fleet/.",
        "environment: production",
        f"bundles: [{BUNDLE}]",
        "targets:",
    ]
    for place in FLEET:
        lines.append(f"  - name: {place.name}")
        lines.append(f"    kind: {place.kind}")
        if place.carries:
            lines.append(f"    carries: {json.dumps(list(place.carries))}")
        if place.group:
            lines.append(f"    group: {place.group}")
        if place.transport == "file":
            lines.append(f'    source: {{type: file, path: "fleet/{place.name}/{{bundle}}.json"}}')
        else:
            use = port if place.transport == "http" else dead_port
            lines.append("    source:")
            lines.append("      type: http")
            lines.append(f'      url: "http://127.0.0.1:{use}/{place.name}/{{bundle}}.json"')
            lines.append('      headers: {Authorization: "Bearer ${RECONCILER_DEMO_TOKEN}"}')
            lines.append("      timeout: 2s")
        if place.name == UNHEALTHY:
            lines.append(f'    health: {{url: "http://127.0.0.1:{port}/health/{place.name}"}}')
    lines += [
        "rollout:",
        "  waves:",
        "    - {name: canary, targets: [us-east-1], bake: 10m}",
        '    - {name: europe, targets: ["eu-*"], bake: 10m}',
        '    - {name: rest, targets: ["*"]}',
        "  progress_deadline: 15m",
        "  health: {successes: 2, failures: 2}",
        "  on_stall: alert",
        "alerts:",
        '  - {type: webhook, url: "${RECONCILER_DEMO_WEBHOOK}"}',
        "",
    ]
    return "\n".join(lines)


def build_repo(root: Path, now: dt.datetime, port: int) -> dict[str, str]:
    """Create the config repo with its three releases; returns tag -> sha."""
    example = example_root()
    root.mkdir(parents=True, exist_ok=True)
    _git(root, "init", "-q", "-b", "main")
    (root / ".gitignore").write_text("fleet/\n.reconciler/\n")
    devices.commit_history(root, now, port, _git)  # the on-device fleet's releases, older
    bundle = root / "bundles" / BUNDLE
    shutil.copytree(example / "bundles" / BUNDLE, bundle)
    (root / "targets").mkdir(exist_ok=True)
    (root / "targets" / "production.yaml").write_text(inventory_text(port, _free_port()))
    v47 = {p.relative_to(bundle): p.read_bytes() for p in bundle.rglob("*") if p.is_file()}
    # v46: before the rename; v45: before the prompt's "keep answers short" paragraph.
    _rewrite(bundle, "an `exec_summary`", "a `summary`")
    _rewrite(bundle, "exec_summary", "summary")
    system = bundle / "prompts" / "system.md"
    v46_prompt = system.read_text()
    system.write_text(v46_prompt.split("\n\nKeep answers short")[0] + "\n")
    _rewrite(bundle, "threshold: 0.8", "threshold: 0.7")
    shas = {}
    _git(root, "add", "-A")
    _git(
        root,
        "commit",
        "-q",
        "-m",
        "support-agent v45: first production bundle",
        when=now - AGES["v45"],
    )
    _rewrite(bundle, "threshold: 0.7", "threshold: 0.8")
    system.write_text(v46_prompt)
    _git(
        root,
        "commit",
        "-q",
        "-am",
        "support-agent v46: shorter answers, stricter toxicity",
        when=now - AGES["v46"],
    )
    for rel, data in v47.items():
        (bundle / rel).write_bytes(data)
    _git(
        root,
        "commit",
        "-q",
        "-am",
        "support-agent v47: report field summary -> exec_summary",
        when=now - AGES["v47"],
    )
    for tag, rev in (("v45", "HEAD~2"), ("v46", "HEAD~1"), ("v47", "HEAD")):
        _git(root, "tag", tag, rev)
        shas[tag] = _git(root, "rev-parse", rev).strip()
    return shas


def place_fleet(root: Path, shas: dict[str, str]) -> None:
    """Write what each target runs: file targets under fleet/, HTTP ones under fleet/http/."""
    repo = repo_at(root)
    for place in FLEET:
        if place.transport == "dead":
            continue
        tag = "v47" if place.runs == "hand-edited" else place.runs
        overlay = (
            place.name
            if (root / "bundles" / BUNDLE / "overlays" / f"{place.name}.yaml").exists()
            else None
        )
        done = render(GitFiles(repo, shas[tag]), BUNDLE, shas[tag], overlay)
        document = done.to_json()
        if place.runs == "hand-edited":
            # Someone fixed a typo on the edge by hand; the stated digests still claim v47.
            text = document["components"]["prompt/system"]["text"]
            document["components"]["prompt/system"]["text"] = text.replace(
                "Keep answers short: three paragraphs at most",
                "Keep answers short: two paragraphs at most",
            )
        folder = root / "fleet" / ("http" if place.transport == "http" else "") / place.name
        folder.mkdir(parents=True, exist_ok=True)
        body = json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        (folder / f"{BUNDLE}.json").write_text(body)
        if place.transport == "file" and place.runs == "v47":
            # v46 served here before: its staged copy is still kept (design §12, keep_staged).
            before = render(GitFiles(repo, shas["v46"]), BUNDLE, shas["v46"], overlay)
            staged = folder / f"{BUNDLE}.json.staged"
            staged.mkdir(exist_ok=True)
            hex_ = before.digest.removeprefix("sha256:")
            (staged / f"{hex_}.json").write_bytes(before.to_bytes())
    devices.place(root)
