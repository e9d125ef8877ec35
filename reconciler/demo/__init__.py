"""``reconciler demo``: the background's incident on a local fleet, seen as on-call would see it."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import secrets
import shutil
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

from . import canary_act, promotion_act, upgrade
from .fleet import AGES, build_repo, place_fleet
from .rollout_act import converge_until_stalled
from .server import FleetServer


def _say(console: object, text: str) -> None:
    console.print(text)  # type: ignore[attr-defined]


#: Runs one real ``reconciler`` command (its arguments) in this process; returns its exit code.
Runner = Callable[[list[str]], int]


def _run(console: object, run: Runner, repo: Path, *args: str) -> int:
    """Run one real CLI command, echoing it first as the user would type it."""
    shown = " ".join(a if " " not in a else repr(a) for a in args)
    _say(console, f"\n[bold cyan]$ reconciler {shown}[/]")
    return run(["--repo", str(repo), *args])


def _executable() -> str:
    """How the user can call ``reconciler``: by name when it is on PATH, else by path."""
    if shutil.which("reconciler"):
        return "reconciler"
    script = Path(sys.argv[0])
    return str(script.resolve()) if script.name == "reconciler" else "reconciler"


def _eval_snapshot(repo: Path) -> Path:
    """The rendered bundle an eval harness ran with (v47), as harnesses record it."""
    from ..bundle.gitrepo import GitFiles, repo_at
    from ..bundle.render import render

    git = repo_at(repo)
    sha = git.commit("v47").hexsha
    done = render(GitFiles(git, sha), "support-agent", sha)
    path = repo / "fleet" / "eval" / "support-agent-v47.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(done.to_bytes())
    return path


def _token(repo: Path) -> str:
    """The demo fleet's write token, kept beside its state so ``--serve`` reuses it."""
    path = repo / ".reconciler" / "demo-token"
    if path.exists():
        return path.read_text().strip()
    token = secrets.token_hex(16)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(token + "\n")
    path.chmod(0o600)
    return token


def _repoint(repo: Path, port: int) -> None:
    """Point the inventories' live HTTP targets, health checks and telemetry at this run's port."""
    live = {p.name for p in (repo / "fleet" / "http").iterdir()} | {"health", "outputs"}
    for env in ("production", "devices"):
        path = repo / "targets" / f"{env}.yaml"
        if not path.exists():
            continue
        text = path.read_text()
        for name in live:
            text = re.sub(
                rf"127\.0\.0\.1:\d+/{re.escape(name)}/", f"127.0.0.1:{port}/{name}/", text
            )
        path.write_text(text)


def run_demo(directory: Path | None, *, serve: bool, now: dt.datetime, run: Runner) -> int:
    """Build (or reuse) the demo fleet, tell the incident, and print what to try next."""
    from ..report.console import console as make_console

    console = make_console()
    repo = directory or Path(tempfile.mkdtemp(prefix="agent-reconciler-demo-"))
    existing = (repo / ".git").is_dir() and (repo / "fleet" / "http").is_dir()
    if not existing and repo.exists() and any(repo.iterdir()):
        console.print(f"[red]error:[/] {repo} is not empty and holds no demo fleet")
        return 1
    token = _token(repo)
    server = FleetServer(repo / "fleet" / "http", token=token)
    os.environ["RECONCILER_DEMO_TOKEN"] = token
    with server:
        os.environ["RECONCILER_DEMO_WEBHOOK"] = server.url("alerts")
        if existing:
            _repoint(repo, server.port)
        else:
            (repo / "fleet" / "http").mkdir(parents=True, exist_ok=True)
            shas = build_repo(repo, now, server.port)
            place_fleet(repo, shas)
        if not existing:
            _say(
                console,
                (
                    "[bold]agent-reconciler demo[/]: the support agent's config repo has three "
                    "releases.\n  v45 (9 days ago), v46 (2 days ago), and v47 (6 hours ago), which "
                    "renames the\n  report's required `summary` to `exec_summary`.\n"
                    "The v47 rollout paused itself after four of six regions; nobody noticed.\n"
                    "ap-south-1's prompt registry got v47 while its config store kept v46.\n"
                    "A POP's prompt was hand-edited; another POP does not answer.\n"
                    f"Config repo and fleet: {repo}"
                ),
            )
            _say(console, "\n[bold]1. What runs where, right now?[/]")
            _run(console, run, repo, "skew", "--env", "production")
            _say(console, "\n[bold]2. The audit a CI job runs on every merge[/]")
            _run(console, run, repo, "audit", "--env", "production")
            _say(console, "\n[bold]3. What exactly differs on the hand-edited POP?[/]")
            _run(console, run, repo, "diff", "--env", "production", "pop-sin")
            _say(console, "\n[bold]4. And on the stalled region[/]")
            _run(console, run, repo, "diff", "--env", "production", "ap-south-1")
            _say(
                console,
                "\n[bold]5. Converge the fleet to v47, wave by wave[/] [dim](on a "
                "simulated clock: 10m bakes and the 15m deadline pass in seconds)[/]",
            )
            # Replayed from when v47 shipped, so the stall lies hours back, as in the incident.
            converge_until_stalled(console, repo, server, (now - AGES["v47"]).timestamp())
            _say(console, "\n[bold]6. Roll back everywhere at once[/]")
            _run(console, run, repo, "rollback", "--env", "production", "--to", "v46")
            _say(console, "\n[bold]7. The bad content stays quarantined: held, not stalled[/]")
            _run(console, run, repo, "converge", "--env", "production")
            _run(console, run, repo, "skew", "--env", "production")
            _say(
                console,
                "\n[bold]8. Last week's eval ran v47: is the agent under test the agent in "
                "production?[/]",
            )
            snapshot = _eval_snapshot(repo)
            _run(console, run, repo, "parity", "--env", "production", "--eval", str(snapshot))
            upgrade.tell(console, lambda *a: _run(console, run, repo, *a), repo, server.port, now)
            _say(console, "\n[bold]12. Production waits for staging's soak[/] [dim](promotion: "
                 "{from: staging, soak: 2h}, on a simulated clock)[/]")  # fmt: skip
            promotion_act.tell(console, repo / "fleet" / "promotion", now)
            _say(console, "\n[bold]13. A prompt change that raises refusals in one segment, as a "
                 "traffic canary[/] [dim](steps 1% → 5% → 25%, judged per segment against the "
                 "old prompt; simulated traffic and clock)[/]")  # fmt: skip
            canary_act.tell(console, repo / "fleet" / "canary", now)
            _say(
                console,
                "\n[bold]14. The on-device fleet: what do the phones run?[/] [dim](a distribution "
                "per device tier, from telemetry; d2's mid artifact was rolled back)[/]",
            )
            _run(console, run, repo, "audit", "--env", "devices")
        exe = _executable()
        prefix = f"{exe} --repo {repo}"
        _say(
            console,
            "\n[bold]Try next[/] (the HTTP targets answer only while "
            "[cyan]reconciler demo --serve[/] runs):",
        )
        # The token is a secret (printed, it would read ***): the line reads it from its file.
        token_file = repo / ".reconciler" / "demo-token"
        _say(console, f"  export RECONCILER_DEMO_TOKEN=$(cat {token_file})   # the write token")
        for line in (
            f"{exe} demo --dir {repo} --serve     # keep the fleet up, in another terminal",
            f"{prefix} skew --env production --watch",
            f"{prefix} audit --env production --format json",
            f"{prefix} audit --env production --format markdown",
            f"{prefix} diff --env production ap-south-1",
            f"{prefix} render support-agent --revision v46",
            f"{prefix} parity --env production --eval {repo}/fleet/eval/support-agent-v47.json",
            f"{prefix} validate",
            f"{prefix} skew --env devices",
            f"{prefix} render on-device-agent --tier low",
        ):
            _say(console, f"  {line}")
        if serve:
            _serve(console, repo, server.port)
    return 0


def _serve(console: object, repo: Path, port: int) -> None:
    """Keep the fleet up, and serve its on-call page (read-only), until Ctrl-C."""
    from .page import FleetPage

    with FleetPage(repo) as page:
        _say(console, f"\nServing the fleet on 127.0.0.1:{port}; Ctrl-C to stop.")
        _say(console, f"The fleet's on-call page: {page.url}")
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
