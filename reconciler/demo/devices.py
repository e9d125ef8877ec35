"""The demo's on-device fleet (design §13), beside the regions: an ``on-device-agent`` bundle in
three device tiers, its manifests (files), and a static telemetry answer the demo's own server
serves as Prometheus would (so the demo needs no Prometheus).

Its story: d2 shipped a new mid-tier artifact that made answers worse on older phones and was
rolled back (the mid manifests revoke it); d3 shipped the fix and a new low-tier artifact. Three
days on, the low tier still lags (its devices check in rarely), and some mid devices still run
the revoked d2: it cannot be forced, only watched as it decays.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

BUNDLE = "on-device-agent"
#: Where the demo's server answers the telemetry query (a file under fleet/http/).
QUERY_FILE = "prometheus/api/v1/query"
TIERS = ("high", "mid", "low")
#: The device releases: tag -> (age, {tier: artifact version}).
RELEASES = {
    "d1": (dt.timedelta(days=20), {"high": "1", "mid": "1", "low": "1"}),
    "d2": (dt.timedelta(days=14), {"high": "1", "mid": "2", "low": "1"}),
    "d3": (dt.timedelta(days=10), {"high": "1", "mid": "3", "low": "3"}),
}
QUANT = {"high": "q8_0", "mid": "q4_k_m", "low": "q4_0"}
#: Active devices per tier and release the telemetry reports (d2 on mid is the revoked one).
DEVICES = {
    "high": {"d3": 4120},
    "mid": {"d3": 6930, "d2": 212, "d1": 380},
    "low": {"d3": 2410, "d1": 1970},
}


def bundle_yaml(versions: dict[str, str]) -> str:
    lines = [
        "apiVersion: agent-reconciler/v1",
        "kind: AgentBundle",
        f"name: {BUNDLE}",
        "model:",
        "  provider: local",
        "  name: llama-3.2-3b-instruct",
        '  version: "2025-09-25"',
        "  variants:",
    ]
    for tier in TIERS:
        v = versions[tier]
        sha = f"{TIERS.index(tier)}{v}".ljust(64, "a")
        url = f"https://models.example/l32-3b-{QUANT[tier]}-r{v}.gguf"
        lines.append(f'    {tier}: {{quant: {QUANT[tier]}, url: "{url}", sha256: "{sha}"}}')
    lines += ["prompts:", "  system: {file: prompts/system.md}", ""]
    return "\n".join(lines)


def inventory_text(port: int) -> str:
    return f"""\
environment: devices
bundles: [{BUNDLE}]
targets:
  - name: android
    kind: devices
    manifest: {{type: file, path: "fleet/devices/{{bundle}}/{{channel}}/{{tier}}.json"}}
    telemetry:
      prometheus: {{url: "http://127.0.0.1:{port}/prometheus/"}}
      query: >-
        sum by (tier, digest) (agent_active_devices{{platform="android", bundle="{{bundle}}"}})
    channels: [beta, stable]
    adoption: {{target: 90%, within: 7d}}
    min_supported: d2
rollout:
  waves:
    - {{name: beta, targets: [android], channels: [beta]}}
    - {{name: stable, targets: [android]}}
"""


def commit_history(root: Path, now: dt.datetime, port: int, git: object) -> None:
    """The device bundle's releases, committed before the regions' (``git`` is the demo's)."""
    folder = root / "bundles" / BUNDLE
    (folder / "prompts").mkdir(parents=True, exist_ok=True)
    (folder / "prompts" / "system.md").write_text("You help the user offline, on their phone.\n")
    (root / "targets").mkdir(exist_ok=True)
    (root / "targets" / "devices.yaml").write_text(inventory_text(port))
    for tag, (age, versions) in RELEASES.items():
        (folder / "bundle.yaml").write_text(bundle_yaml(versions))
        git(root, "add", "-A")  # type: ignore[operator]
        git(root, "commit", "-q", "-m", f"{BUNDLE} {tag}", when=now - age)  # type: ignore[operator]
        git(root, "tag", tag)  # type: ignore[operator]


def place(root: Path) -> None:
    """The manifests (as a converge and a rollback left them) and the telemetry's answer."""
    from ..bundle.gitrepo import GitFiles, repo_at
    from ..bundle.render import render
    from ..bundle.tiers import manifest, tier_render

    repo = repo_at(root)  # the pooled repo: closed by its pool, not here
    renders = {}
    for tag in RELEASES:
        sha = repo.commit(tag).hexsha
        renders[tag] = render(GitFiles(repo, sha), BUNDLE, sha)
    series = []
    for tier in TIERS:
        revoked = [tier_render(renders["d2"], tier).digest] if tier == "mid" else []
        for channel in ("beta", "stable"):
            doc = manifest(renders["d3"], tier, channel, revoked=revoked)
            path = root / "fleet" / "devices" / BUNDLE / channel / f"{tier}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
        for tag, devices in DEVICES[tier].items():
            digest = tier_render(renders[tag], tier).digest
            labels = {"tier": tier, "digest": digest}
            series.append({"metric": labels, "value": [0, str(devices)]})
    answer = {"status": "success", "data": {"resultType": "vector", "result": series}}
    path = root / "fleet" / "http" / QUERY_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(answer))
