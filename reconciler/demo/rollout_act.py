"""The demo's second half: converge the fleet, watch the stall get caught and alerted, roll back.

The rollout engine takes its clock as an argument, so here it runs on a simulated clock: the
demo's 10-minute bakes and 15-minute progress deadline pass in seconds, through the same code
the daemon runs in real time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..model.codes import AlertCondition
from .fleet import UNHEALTHY
from .server import FleetServer

STEP = 300.0  #: simulated seconds between reconcile steps, at most
MAX_STEPS = 60


def converge_until_stalled(console: Any, repo: Path, server: FleetServer, start: float) -> None:
    """Drive the rollout step by step on a simulated clock until it stalls (or completes)."""
    from ..model.duration import format_duration
    from ..model.rollout import Notify
    from ..report.rollout import status_text
    from ..rollout.driver import Driver
    from ..state import open_store

    now = [start]
    store = open_store(repo)
    driver = Driver(repo, "production", store, clock=lambda: now[0], user="demo")
    server.failing.add(UNHEALTHY)  # its health check fails once it runs v47
    last_wave = None
    step = None
    try:
        for _ in range(MAX_STEPS):
            step = driver.step()
            rollout = step.bundles["support-agent"].rollout
            elapsed = format_duration(now[0] - start) if now[0] > start else "0s"
            if rollout is not None and rollout.wave != last_wave:
                last_wave = rollout.wave
                name = rollout.waves[rollout.wave] if rollout.wave < len(rollout.waves) else "-"
                console.print(f"  [dim]+{elapsed:>6}[/] wave {rollout.wave + 1}: {name}")
            done = step.bundles["support-agent"]
            for target in done.written:
                console.print(f"  [dim]+{elapsed:>6}[/] apply v47 -> {target}")
            for group, outcome, seconds in done.switches:
                window = f", torn window {seconds * 1000:.0f} ms" if seconds is not None else ""
                console.print(
                    f"  [dim]+{elapsed:>6}[/] group {group}: staged, then {outcome}{window}"
                )
            for action in done.actions:
                if isinstance(action, Notify):
                    console.print(
                        f"  [dim]+{elapsed:>6}[/] [bold red]alert[/] {action.condition} "
                        f"{action.state}: {action.message}"
                    )
            if step.blocked and rollout is not None and rollout.stalled:
                break
            if step.complete:
                break
            now[0] = _next(rollout, step.audit.inventory.rollout.progress_deadline, now[0])
        if step is not None:
            rollout = step.bundles["support-agent"].rollout
            if rollout is not None:
                policy = step.audit.inventory.rollout
                console.print(status_text(rollout, policy, now[0], step.audit.tags))
    finally:
        store.close()
    from ..alerts.outbox import shared

    shared().drain(timeout=10)  # alerts go out off the step's path: let them arrive first
    for alert in server.alerts:
        if alert.get("condition") == AlertCondition.STALLED:
            console.print("\n[bold]The chat channel received:[/]")
            console.print(f"  {alert.get('text')}")
            break


def _next(rollout: Any, deadline: float, now: float) -> float:
    """The next simulated instant worth a step: a bake's end or the deadline, else one STEP."""
    moments = [now + STEP]
    if rollout is not None:
        if rollout.wave_ready_at is not None and rollout.wave < len(rollout.bakes):
            moments.append(rollout.wave_ready_at + rollout.bakes[rollout.wave])
        moments.append(rollout.deadline(deadline) + 1)
    return max(now + 1, min(moments))
