"""The demo's promotion act (design §14): a staging and a production environment on one state;
production waits for staging to complete the content and soak, on a simulated clock.

Contained: its own small config repo (``fleet/promotion/`` of the demo's folder, file targets
under its ``envs/``), stepped by the same driver the daemon runs.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Any

from ..model.rollout import Phase
from .fleet import BUNDLE, _git, example_root

SOAK = 7200.0  #: production's promotion.soak
STEP = 1800.0  #: simulated seconds between steps (a daemon's interval, sped up)

_INVENTORY = """\
# targets/{env}.yaml
environment: {env}
bundles: [{bundle}]
targets:
  - {{name: {env}-1, source: {{type: file, path: "envs/{env}-1/{{bundle}}.json"}}}}
rollout: {{progress_deadline: 30m}}
"""
_PROMOTION = "promotion: {from: staging, soak: 2h}\n"


def build(root: Path, now: dt.datetime) -> None:
    """A config repo with the example bundle, staging, and production promoting from it."""
    root.mkdir(parents=True)
    _git(root, "init", "-q", "-b", "main")
    (root / ".gitignore").write_text("envs/\n.reconciler/\n")
    shutil.copytree(example_root() / "bundles" / BUNDLE, root / "bundles" / BUNDLE)
    (root / "targets").mkdir()
    for env in ("staging", "production"):
        text = _INVENTORY.format(env=env, bundle=BUNDLE)
        (root / "targets" / f"{env}.yaml").write_text(
            text + (_PROMOTION if env != "staging" else "")
        )
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "support-agent: staging, then production", when=now)
    for env in ("staging", "production"):
        (root / "envs" / f"{env}-1").mkdir(parents=True)  # empty: the bundle is missing


def tell(console: Any, root: Path, now: dt.datetime) -> None:
    """Step both environments every STEP simulated seconds until production completes."""
    from ..report.rollout import headline
    from ..rollout.driver import Driver
    from ..state import open_store

    build(root, now)
    clock = [now.timestamp()]
    store = open_store(root)
    drivers = {
        env: Driver(root, env, store, clock=lambda: clock[0], user="demo")
        for env in ("staging", "production")
    }
    said: dict[str, str] = {}
    try:
        for turn in range(12):
            elapsed = f"+{turn * STEP / 3600:.1f}h"
            for env, driver in drivers.items():
                if env == "staging" and turn == 0:
                    continue  # staging's daemon comes up one interval late
                step = driver.step()
                rollout = step.bundles[BUNDLE].rollout
                if rollout is None:
                    continue
                line = headline(rollout, step.audit.inventory.rollout, clock[0], step.audit.tags)
                if said.get(env) != line:  # only what changed
                    said[env] = line
                    console.print(f"  [dim]{elapsed:>6}[/] {env:<10} {line}")
            if all(
                d.store.load_rollout(env, BUNDLE) is not None
                and d.store.load_rollout(env, BUNDLE).phase is Phase.COMPLETE  # type: ignore[union-attr]
                for env, d in drivers.items()
            ):
                break
            clock[0] += STEP
    finally:
        store.close()
