"""The legitimate waits of a rollout step (design §14), read from the inventory, the clock and
the upstream environment's state: a promotion not yet earned, a change window that is closed.

The arithmetic is pure (:mod:`reconciler.model.promotion`, :mod:`reconciler.model.windows`);
this module does the reading. An upstream whose state cannot be read is a loud wait (Stalled,
with the reason), never a pass.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..audit.results import Audit, Finding
from ..config.inventory import load_inventory
from ..errors import ReconcilerError
from ..model import promotion, windows
from ..model.canary import steps_text
from ..model.codes import FindingCode
from ..model.duration import format_duration
from ..model.rollout import Reason, Rollout, Wait
from ..state.interface import StateStore
from ..statedir import cache_dir


def upstream(repo_root: Path, store: StateStore, name: str, bundle: str, content: str) -> Any:
    """What the upstream environment ``name``'s state says of ``bundle`` (errors included)."""
    try:
        inventory = load_inventory(repo_root, name, cache_dir(repo_root), plain=True)
        return promotion.Upstream(
            name,
            store.load_rollout(name, bundle),
            store.quarantined(name, bundle, content),
            inventory.rollout.progress_deadline,
        )
    except ReconcilerError as exc:
        return promotion.Upstream(name, error=str(exc))
    except Exception as exc:  # a broken store must wait loudly, never promote
        return promotion.Upstream(name, error=f"{type(exc).__name__}: {exc}")


def window(spec: Any, now: float) -> Wait | None:
    """A closed window's wait (None while it is open, or with no ``windows:``)."""
    if spec is None:
        return None
    found = windows.state(spec, now)
    if found.open:
        return None
    message = f"{found.why}; {windows.opens(spec, found)}"
    return Wait(Reason.WAITING_FOR_WINDOW, message, found.opens_at, spec.max_wait)


def rollback_allowed(spec: Any, now: float) -> str:
    """Why a rollback may not be written now ("" when it may): ``rollback: in_window`` only."""
    if spec is None or spec.rollback == "always":
        return ""
    closed = window(spec, now)
    return "" if closed is None else f"windows.rollback is in_window: {closed.message}"


def wait(
    repo_root: Path,
    store: StateStore,
    inventory: Any,
    rollout: Rollout,
    now: float,
) -> Wait | None:
    """This step's wait for ``rollout``: its promotion first (before it started), then windows."""
    spec = inventory.promotion
    if spec is not None and not rollout.promoted and rollout.content:
        up = upstream(repo_root, store, spec.from_, rollout.bundle, rollout.content)
        held = promotion.wait(up, rollout.content, spec.soak, now)
        if held is not None:
            return held
    return window(inventory.windows, now)


def plan_findings(
    repo_root: Path, audit: Audit, store: StateStore | None, now: float
) -> list[Finding]:
    """``plan``: for each bundle that would change, what its rollout would wait for, and until
    when (a promotion not yet earned, a closed window)."""
    inventory = audit.inventory
    out = []
    for bundle, rendered in audit.desired.items():
        changing = any(
            r.bundle == bundle and str(r.status) != "in_sync"
            for t in audit.targets
            for r in t.bundles
        )
        if not changing:
            continue
        said = []
        spec = inventory.promotion
        if spec is not None and store is None:
            said.append(f"AwaitingPromotion: no state store here to read {spec.from_}'s from")
        elif spec is not None and store is not None:
            up = upstream(repo_root, store, spec.from_, bundle, rendered.digest)
            held = promotion.wait(up, rendered.digest, spec.soak, now)
            if held is not None:
                said.append(_words(held))
        closed = window(inventory.windows, now)
        if closed is not None:
            said.append(_words(closed))
        for words in said:
            out.append(
                Finding("warning", FindingCode.WAITING, f"would wait: {words}", bundle=bundle)
            )
        if inventory.rollout.canary is not None:
            out.append(canary_finding(inventory.rollout.canary, bundle))
    return out


def canary_finding(spec: Any, bundle: str) -> Finding:
    """``plan``: the change goes out as a traffic canary (design §12.1), and how."""
    judge = spec.judge
    by = f" by {judge.by}" if judge.by else ""
    metrics = ", ".join(m.name for m in judge.metrics)
    flag = spec.release_flag.name.replace("{bundle}", bundle)
    message = (
        f"goes out as a canary on {spec.release_flag.target}/{flag}: "
        f"{steps_text(spec.steps)} of users, each baked {format_duration(spec.bake)} and judged "
        f"on {metrics}{by} against the stable digest (alpha {judge.alpha:g}), then every group "
        "switches (the first rollout of a bundle is plain and creates the flag)"
    )
    return Finding("info", FindingCode.CANARY, message, bundle=bundle)


def _words(held: Wait) -> str:
    until = ""
    if held.until is not None:
        until = f" (until {promotion.at(held.until)})"
    return f"{held.reason}: {held.message}{until}"
