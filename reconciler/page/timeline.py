"""The timeline: the state store's recent events (applies, pauses, alerts, rollbacks...) in words.

The event log (:mod:`reconciler.rollout.events`, ``rollout pause|resume|abort``, ``rollback``)
is plain records; here each kind becomes one line a person reads, newest first. Status changes
of many targets in one step read as one line; a kind this module does not know is shown as is.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..model.duration import format_duration
from ..revisions import revision_label
from .view import iso

#: Moments the page shows at most.
SHOWN = 40
#: Trail commands whose rollout events (``pause``, ``resume``, ``abort``) already say who and why.
STEERING = frozenset({"rollout pause", "rollout resume", "rollout abort"})


@dataclass(frozen=True)
class Moment:
    """One line of the timeline."""

    at: float
    iso: str
    ago: str  #: ``5m12s ago``
    word: str  #: what happened, in one word: apply, alert, paused, rollback...
    tone: str  #: ok | warn | bad | info
    bundle: str
    text: str


def timeline(
    events: Sequence[Mapping[str, Any]], tags: Mapping[str, str], now: float
) -> list[Moment]:
    """The newest :data:`SHOWN` moments of ``events`` (oldest first, as the store gives them)."""
    label: Callable[[str | None], str] = lambda sha: revision_label(sha, tags)  # noqa: E731
    moments: list[Moment] = []
    pending: list[Mapping[str, Any]] = []  # target_status events of one step, read as one

    def flush() -> None:
        if pending:
            moments.append(_statuses(pending, label, now))
            pending.clear()

    said: tuple[Any, ...] = ()
    for event in events:
        if event.get("kind") == "target_status":
            if pending and pending[0].get("at") != event.get("at"):
                flush()
            pending.append(event)
            continue
        flush()
        if event.get("kind") == "command" and (event.get("data") or {}).get("command") in STEERING:
            continue  # the rollout's own pause/resume/abort event says who and why already
        if event.get("kind") == "condition":
            # Ready and Reconciling change together, in the same words: one line says it.
            d = event.get("data") or {}
            same = (event.get("at"), d.get("bundle"), d.get("reason"), d.get("message"))
            if same == said:
                continue
            said = same
        moments.append(_moment(event, label, now))
    flush()
    return list(reversed(moments))[:SHOWN]


def _ago(at: float, now: float) -> str:
    if at > now + 1:  # recorded on a clock ahead of this one (e.g. a simulated replay)
        return f"in {format_duration(at - now)}"
    return f"{format_duration(now - at)} ago"


def _make(event: Mapping[str, Any], now: float, word: str, tone: str, text: str) -> Moment:
    at = float(event.get("at") or 0.0)
    data = event.get("data") or {}
    return Moment(at, iso(at), _ago(at, now), word, tone, str(data.get("bundle") or ""), text)


def _moment(event: Mapping[str, Any], label: Callable[[str | None], str], now: float) -> Moment:
    kind = str(event.get("kind"))
    d: Mapping[str, Any] = event.get("data") or {}
    by = f" by {d['by']}" if d.get("by") else ""
    reason = f": {d['reason']}" if d.get("reason") else ""
    scope = f" (converge --target {d['scope']})" if d.get("scope") else ""
    if kind == "rollout_started":
        waves = ", ".join(str(w) for w in d.get("waves") or [])
        start = f" from {label(d.get('from'))}" if d.get("from") else ""
        text = f"rollout to {label(d.get('to'))}{start} started; waves: {waves}"
        return _make(event, now, "started", "info", text + scope)
    if kind == "phase":
        to = str(d.get("to"))
        tone = {"paused": "warn", "aborted": "bad", "complete": "ok"}.get(to, "info")
        return _make(event, now, to, tone, f"phase {d.get('from')} -> {to}{scope}")
    if kind == "wave":
        return _make(event, now, "wave", "info", f"wave {int(d.get('wave', 0)) + 1} started")
    if kind == "condition":
        status = "true" if d.get("status") else "false"
        tone = "bad" if d.get("type") in ("Stalled", "Quarantined") and d.get("status") else "info"
        text = f"{d.get('type')}={status} {d.get('reason')}: {d.get('message')}"
        return _make(event, now, str(d.get("type")).lower(), tone, text + scope)
    if kind == "condition_cleared":
        return _make(event, now, "cleared", "info", f"{d.get('type')} cleared")
    if kind == "alert":
        firing = d.get("state") == "firing"
        text = f"alert {d.get('condition')} {d.get('state')}"
        return _make(event, now, "alert", "bad" if firing else "ok", text + scope)
    if kind == "apply":
        return _make(event, now, "apply", "info", f"apply -> {d.get('target')}{scope}")
    if kind == "revert":
        parts = [f"{t.get('target')} -> {label(t.get('revision'))}" for t in d.get("targets") or []]
        return _make(event, now, "rollback", "bad", "put back: " + ", ".join(parts))
    if kind in ("pause", "resume", "abort"):
        word = {"pause": "paused", "resume": "resumed", "abort": "aborted"}[kind]
        return _make(event, now, word, "warn", f"rollout {word}{by}{reason}")
    if kind == "command":  # the trail (design §15): who ran what, why, and how it ended
        bundles = f" {', '.join(d.get('bundles') or [])}" if d.get("bundles") else ""
        text = f"{d.get('command')}{bundles}{by}: {d.get('outcome')}{reason}"
        tone = "ok" if d.get("outcome") == "succeeded" else "warn"
        return _make(event, now, str(d.get("command")).split()[-1], tone, text)
    if kind == "rolled_back":
        return _make(event, now, "rollback", "bad", f"rolled back to {label(d.get('to'))}{by}")
    if kind == "quarantined":
        text = f"{label(d.get('revision'))} quarantined{by}; held on {label(d.get('to_revision'))}"
        return _make(event, now, "quarantine", "bad", text)
    if kind == "canary":  # design §12.1: a step written, judged, failed or settled
        state = str(d.get("state"))
        tone = {"failed": "bad", "marginal": "warn", "settled": "ok"}.get(state, "info")
        served = d.get("served")
        share = f", {served:.1%} of requests served" if isinstance(served, float) else ""
        text = f"canary {state}: step {int(d.get('step') or 0) + 1}, weight {d.get('weight')}"
        return _make(event, now, "canary", tone, f"{text}/1000{share}")
    shown = json.dumps(dict(d), sort_keys=True, default=str)
    return _make(event, now, kind, "info", shown[:300])


def _statuses(
    events: Sequence[Mapping[str, Any]], label: Callable[[str | None], str], now: float
) -> Moment:
    parts = []
    for event in events:
        d = event.get("data") or {}
        was = d.get("was") or "new"
        at = f" at {label(d.get('revision'))}" if d.get("revision") else ""
        parts.append(f"{d.get('target')} {was} -> {d.get('status')}{at}")
    more = f" (+{len(parts) - 6} more)" if len(parts) > 6 else ""
    worse = any((e.get("data") or {}).get("status") != "in_sync" for e in events)
    text = "; ".join(parts[:6]) + more
    return _make(events[0], now, "status", "warn" if worse else "ok", text)
