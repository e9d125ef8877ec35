"""The demo's canary act (design §12.1): a prompt change that raises refusals in one segment
(``es``: 8% -> 14%) goes out as a traffic canary, is caught at the 5% step, and flips back in one
flag write; ``rollout status`` shows the judge's table, as the on-call page's panel does.

Contained: its own small config repo (``fleet/canary/`` of the demo's folder), a file store, and
the stand-ins of :mod:`.canary_lab` for Unleash and Prometheus, stepped by the same driver the
daemon runs on a simulated clock (a minute a step; the 10m bakes pass in seconds).
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

from .canary_lab import Lab, LabServer
from .fleet import BUNDLE, _git, example_root

STEP = 60.0  #: simulated seconds between steps
BASE, WORSE = 0.08, 0.14  #: refusal rates: everywhere, and the new prompt's in es
TOKEN_VAR = "DEMO_UNLEASH_TOKEN"
PAGE = "page.html"  #: the act's on-call page, written once the canary is caught


def inventory(port: int) -> dict[str, Any]:
    base = f"http://127.0.0.1:{port}"
    refusals = 'increase(agent_refusals_total{bundle="{bundle}"}[{interval}])'
    requests = 'increase(agent_requests_total{bundle="{bundle}"}[{interval}])'
    return {
        "environment": "production",
        "bundles": [BUNDLE],
        "targets": [
            {"name": "store", "source": {"type": "file", "path": "envs/store/{bundle}.json"}},
            {
                "name": "flags",
                "kind": "flag-platform",
                "carries": ["flag/*"],
                "source": {
                    "type": "unleash",
                    "url": f"{base}/unleash",
                    "environment": "production",
                    "token": "${" + TOKEN_VAR + "}",
                },
            },
        ],
        "rollout": {
            "progress_deadline": "30m",
            "canary": {
                "release_flag": {"target": "flags"},
                "steps": ["1%", "5%", "25%"],
                "bake": "10m",
                "judge": {
                    "by": "segment",
                    "interval": "1m",
                    "metrics": [
                        {
                            "name": "refusal-rate",
                            "test": "proportion",
                            "numerator": f"sum by (digest, segment) ({refusals})",
                            "denominator": f"sum by (digest, segment) ({requests})",
                            "tolerance": "5%",
                        }
                    ],
                },
            },
        },
        "analysis": {"prometheus": {"url": f"{base}/prom"}},
    }


def build(root: Path, port: int, now: dt.datetime) -> None:
    """The example bundle (v1) and an inventory whose rollouts go out as canaries."""
    root.mkdir(parents=True)
    _git(root, "init", "-q", "-b", "main")
    (root / ".gitignore").write_text("envs/\n.reconciler/\n")
    shutil.copytree(example_root() / "bundles" / BUNDLE, root / "bundles" / BUNDLE)
    (root / "targets").mkdir()
    text = "# targets/production.yaml\n" + json.dumps(inventory(port), indent=2) + "\n"
    (root / "targets" / "production.yaml").write_text(text)
    (root / "envs" / "store").mkdir(parents=True)
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "support-agent v1, rolled out as canaries", when=now)


def tell(console: Any, root: Path, now: dt.datetime) -> int:
    """v1 goes out plain (it creates the release flag), v2 as a canary caught at 5%."""
    from rich.markup import escape

    from ..model.canary_progress import CanaryState
    from ..page import OnCallPage
    from ..report.rollout import headline, status_text
    from ..rollout.driver import Driver
    from ..state import open_store

    clock = [now.timestamp()]
    stable: list[str] = []

    def refusals(digest: str, segment: str) -> float:
        return WORSE if stable and digest != stable[0] and segment == "es" else BASE

    lab = Lab(lambda: clock[0], refusals, f"{BUNDLE}.release")
    with LabServer(lab) as server:
        build(root, server.port, now)
        store = open_store(root)
        driver = Driver(
            root, "production", store, environ={TOKEN_VAR: "demo"}, clock=lambda: clock[0]
        )
        said = ""
        try:
            for turn in range(120):
                if turn == 3:  # v1 is out: a prompt change lands
                    stable.append(store.load_rollout("production", BUNDLE).content)  # type: ignore[union-attr]
                    prompt = root / "bundles" / BUNDLE / "prompts" / "system.md"
                    prompt.write_text(prompt.read_text() + "\nDecline anything ambiguous.\n")
                    _git(root, "commit", "-qam", "support-agent v2: a stricter prompt")
                    console.print("  [dim]v2 lands: a stricter system prompt[/]")
                step = driver.step()
                rollout = step.bundles[BUNDLE].rollout
                if rollout is None:
                    clock[0] += STEP
                    continue
                line = headline(rollout, step.audit.inventory.rollout, clock[0], step.audit.tags)
                if line != said:
                    said = line
                    console.print(f"  [dim]+{turn:>3}m[/] {escape(line)}")
                canary = rollout.canary
                if canary is not None and canary.state is CanaryState.FAILED:
                    policy = step.audit.inventory.rollout
                    console.print(escape(status_text(rollout, policy, clock[0], {})))
                    weights = [h[1] for h in lab.history]
                    console.print(
                        f"  the release flag's canary weight, write by write: {weights} "
                        "(of 1000; the last write flipped it back)"
                    )
                    page = OnCallPage("production", interval=30, clock=lambda: clock[0])
                    page.publish(step.audit, {BUNDLE: rollout}, store=store, repo=root)
                    (root / PAGE).write_bytes(page.respond("/", {})[1])
                    console.print(f"  the on-call page, with the judge's table: {root / PAGE}")
                    return 0
                clock[0] += STEP
        finally:
            store.close()
    console.print("  [red]the canary was not caught[/]")
    return 1
