"""Required evals (``rollout.require_eval``): records of an eval of exactly one bundle digest, and
what they mean for a rollout and a plan.

The digest is the bundle digest of the desired render (``reconciler render BUNDLE``'s
``digest``: the whole bundle, no overlay). The newest record of a digest decides: a failed
re-run takes an earlier pass back. Writing a record is a state write: it holds the
environment's lease for that moment, as the steering commands do.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable

from ..audit.results import Audit, Finding
from ..model.codes import FindingCode, Level
from ..state.interface import EvalRecord, StateStore
from .writer import Writer, holder_name

RESULTS = ("passed", "failed")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
#: Component kinds whose change the model sees the way an eval should have measured.
EVALUATED = ("model", "prompt/", "tool/")


def check_digest(digest: str) -> str:
    """``sha256:`` and 64 hex digits, or a ValueError saying so."""
    if not _DIGEST.match(digest):
        raise ValueError(f"{digest!r} is not a bundle digest (sha256: and 64 hex digits)")
    return digest


#: Longest ``--report`` URL kept (it is shown in plans, pages and PR comments).
MAX_REPORT = 2048


def check_report(url: str) -> str:
    """An ``http(s)://`` URL of at most :data:`MAX_REPORT` bytes, visible ASCII only (no
    spaces, no control or bidirectional characters, no markup), or a ValueError saying so."""
    if len(url.encode()) > MAX_REPORT:
        raise ValueError(f"the report URL is longer than {MAX_REPORT} bytes")
    if not url.startswith(("http://", "https://")) or len(url.split("://", 1)[1]) == 0:
        raise ValueError("the report must be an http:// or https:// URL")
    if any(not 0x21 <= ord(c) <= 0x7E or c in '<>"\\`{}|^' for c in url):
        raise ValueError(
            "the report URL holds a space, a control or non-ASCII character, or markup "
            "(percent-encode it)"
        )
    return url


def record(
    store: StateStore,
    environment: str,
    digest: str,
    result: str,
    *,
    by: str,
    at: float,
    report: str | None = None,
) -> EvalRecord:
    """Write one eval record, holding the environment's lease (pre-empting a writer, like a
    person steering: it writes nothing more this step, and takes the lease again after)."""
    if result not in RESULTS:
        raise ValueError(f"result must be passed or failed, not {result!r}")
    entry = EvalRecord(environment, check_digest(digest), result, at, by, report)
    writer = Writer(store, environment, holder_name("eval record", by))
    writer.take(preempt=True)
    try:
        store.record_eval(entry)
    finally:
        writer.give_up()
    return entry


def latest(store: StateStore, environment: str, digest: str) -> EvalRecord | None:
    """The newest eval record of exactly ``digest`` (None: no eval of it was recorded)."""
    found = store.evals(environment, digest)
    return found[0] if found else None


def describe(entry: EvalRecord) -> str:
    """``passed (by ci at 2026-11-29 21:29 UTC, report https://...)``."""
    at = dt.datetime.fromtimestamp(entry.at, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    report = f", report {entry.report}" if entry.report else ""
    return f"{entry.result} (by {entry.by} at {at}{report})"


def awaiting(store: StateStore, environment: str, digest: str) -> str:
    """Why a rollout of ``digest`` may not start a wave yet; "" once a passing eval exists."""
    entry = latest(store, environment, digest)
    if entry is not None and entry.result == "passed":
        return ""
    seen = f"the newest eval of {digest} {describe(entry)}" if entry else f"no eval of {digest}"
    hint = f"reconciler eval record --env {environment} --digest {digest} --result passed"
    return f"awaiting a passing eval (rollout.require_eval): {seen}; record one with `{hint}`"


def plan_findings(audit: Audit, store: StateStore | None) -> list[Finding]:
    """For each bundle whose model, prompts or tools change: whether its new digest was
    evaluated (a warning where ``require_eval`` makes the rollout wait for one)."""
    required = audit.inventory.rollout.require_eval
    out = []
    for bundle, rendered in audit.desired.items():
        changed = sorted(_changed(audit, bundle))
        if not changed:
            continue
        digest = rendered.digest
        entry = latest(store, audit.environment, digest) if store is not None else None
        what = ", ".join(changed[:4]) + (" …" if len(changed) > 4 else "")
        if entry is not None:
            said = f"eval of {digest}: {describe(entry)}"
        elif store is None:
            said = f"no eval of {digest} recorded (no state store here)"
        else:
            said = f"no eval of {digest} recorded"
        ok = entry is not None and entry.result == "passed"
        if required and not ok:
            said += "; rollout.require_eval: no wave starts before a passing one"
        level = Level.WARNING if required and not ok else Level.INFO
        out.append(Finding(level, FindingCode.EVAL, f"{what} changed: {said}", bundle=bundle))
    return out


def _changed(audit: Audit, bundle: str) -> Iterable[str]:
    return {
        change.component
        for target in audit.targets
        for result in target.bundles
        if result.bundle == bundle
        for change in result.changes
        if change.component.startswith(EVALUATED)
    }
