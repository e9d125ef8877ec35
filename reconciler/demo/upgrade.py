"""The demo's model-upgrade incident (issue 13): v48 changes only ``model.version``; the config
diff calls it behavioral and passes it, the offline eval passes, and the canary's outputs start
carrying ``exec_summary``. The output contract gate catches it during the canary's bake: the
rollout pauses at one target and no other region receives v48.

The demo's fleet server answers each region's recent outputs (``/outputs/<region>``) from the
model that region's config store holds, as a logging sidecar would (:func:`outputs_for`).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

from .fleet import BUNDLE, _git

#: The model version v48 pins; its reports rename ``summary`` now and then.
NEW_MODEL = "2025-08-07"
#: The regions whose outputs the reconciler reads (a logging sidecar serves them).
OUTPUT_REGIONS = ("us-east-1", "eu-west-1", "ap-south-1")
SAMPLE = 200


def outputs_for(model_version: str | None) -> bytes:
    """A region's last :data:`SAMPLE` outputs, newest first, as JSON lines.

    The new model writes ``exec_summary`` for ``summary`` in 72 of 200 reports and leaves it
    out in 2 more: 37% of its outputs break a parser that reads ``summary``.
    """
    lines = []
    for index in range(SAMPLE):
        report: dict[str, object] = {"sentiment": "neutral", "follow_up": index % 3 == 0}
        renamed = model_version == NEW_MODEL and index % 100 < 37
        if not renamed:
            report["summary"] = "Refunded order A-1042; the customer is satisfied."
        elif index % 100 < 36:
            report["exec_summary"] = "Refunded order A-1042; the customer is satisfied."
        lines.append(json.dumps({"schema": "report", "output": report}))
    return ("\n".join(lines) + "\n").encode()


def model_of(document: Path) -> str | None:
    """The model version a config store holds (None when it holds nothing readable)."""
    try:
        return str(json.loads(document.read_text())["components"]["model"]["version"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def gate_inventory(text: str, port: int) -> str:
    """The inventory with the regions' outputs read during bakes, and evals required."""
    out = []
    for line in text.splitlines():
        out.append(line)
        name = line.removeprefix("  - name: ")
        if name in OUTPUT_REGIONS:
            url = f"http://127.0.0.1:{port}/outputs/{name}"
            out.append(f'    outputs: {{url: "{url}", sample: {SAMPLE}, max_invalid: 1%}}')
        if line == "  on_stall: alert":
            out.append("  require_eval: true")
    return "\n".join(out) + "\n"


def ship_v48(repo: Path, port: int, now: dt.datetime) -> None:
    """v47 reverted in git, the gates switched on, then v48: only ``model.version`` changes."""
    when = now - dt.timedelta(minutes=30)
    _git(repo, "revert", "--no-edit", "v47", when=when)
    inventory = repo / "targets" / "production.yaml"
    inventory.write_text(gate_inventory(inventory.read_text(), port))
    subject = "targets: check the regions' outputs during bakes; require evals"
    _git(repo, "commit", "-q", "-am", subject, when=when)
    spec = repo / "bundles" / BUNDLE / "bundle.yaml"
    text = spec.read_text()
    old = next(line for line in text.splitlines() if line.strip().startswith("version:"))
    spec.write_text(text.replace(old, f'  version: "{NEW_MODEL}"', 1))
    _git(repo, "commit", "-q", "-am", f"support-agent v48: model {NEW_MODEL}", when=now)
    _git(repo, "tag", "v48")


def desired_digest(repo: Path) -> str:
    """The bundle digest of v48's render: what its eval ran, and what is recorded."""
    from ..rollout.act import Documents

    return Documents(repo).digest(BUNDLE, "v48")


def tell(
    console: object, command: Callable[..., int], repo: Path, port: int, now: dt.datetime
) -> None:
    """The model-upgrade part of the demo, told with real commands (``command(*args)``)."""
    say = console.print  # type: ignore[attr-defined]
    say(
        "\n[bold]9. A model upgrade a config diff calls harmless[/]: the team reverts v47 in git, "
        "has the reconciler read each region's outputs during bakes and require evals, then "
        f"ships v48, which changes only model.version (-> {NEW_MODEL})."
    )
    ship_v48(repo, port, now)
    command("plan", "--env", "production", "--base", "HEAD~1")
    say("\n[bold]10. The offline eval suite passed on v48's digest[/]")
    digest = desired_digest(repo)
    report = "https://evals.example.internal/support-agent/v48"
    command("eval", "record", "--env", "production", "--digest", digest,
            "--result", "passed", "--report", report)  # fmt: skip
    say(
        "\n[bold]11. Converge to v48[/]: the canary's outputs break the report's contract "
        "during its bake"
    )
    command("converge", "--env", "production")
    command("skew", "--env", "production")
