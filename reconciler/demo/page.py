"""The demo fleet's on-call page, for ``reconciler demo --serve``: the daemon's page, read-only.

A real daemon would step the rollout and write to the fleet; the demo is showing an incident
(a stalled rollout, rolled back and held), so here a watcher only audits — fetches every target,
judges with what the state store recorded — every few seconds, and serves the same page the
daemon serves (:mod:`reconciler.page`) on 127.0.0.1. Nothing is written, to the fleet or to
state.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from ..page import OnCallPage

#: Seconds between the watcher's audits (the page refreshes itself as often).
INTERVAL = 5.0


class FleetPage:
    """Audits ``environment`` of ``repo`` read-only and serves its page until :meth:`stop`."""

    def __init__(self, repo: Path, environment: str = "production", interval: float = INTERVAL):
        from ..clock import running
        from ..daemon.server import StatusServer

        self.repo = repo
        self.environment = environment
        self.interval = interval
        self.clock = running()
        self.page = OnCallPage(environment, interval=interval, clock=self.clock)
        self.error: str | None = None  #: why the last audit failed, if it did
        self._document: dict[str, Any] | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="demo-page", daemon=True)
        self.server = StatusServer(
            "127.0.0.1:0",
            metrics=lambda: (b"# the demo's page serves no metrics\n", "text/plain"),
            status=lambda: self._document,
            alive=lambda: True,
            ready=lambda: self._document is not None,
            page=self.page.respond,
        )

    @property
    def url(self) -> str:
        return self.server.url + "/"

    def __enter__(self) -> FleetPage:
        self.server.start()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        self.server.stop()

    def _watch(self) -> None:
        while not self._stop.is_set():
            try:
                self.audit_once()
                self.error = None
            except Exception as exc:  # a watcher that dies leaves a stale page: keep trying
                self.error = f"{type(exc).__name__}: {exc}"
            self._stop.wait(self.interval)

    def audit_once(self) -> None:
        """One read-only audit, judged with the recorded state, published to the page."""
        import datetime as dt

        from ..audit.auditor import Auditor
        from ..audit.verdict import Recorded
        from ..secrets import scrub_data
        from ..state import open_existing

        auditor = Auditor(self.repo, self.environment)
        bundles = auditor.inventory().bundles
        store = open_existing(self.repo)
        try:
            rollouts = {
                b: store.load_rollout(self.environment, b) if store else None for b in bundles
            }
            if store is not None:
                auditor.recorded = Recorded(
                    rollouts=rollouts,
                    quarantines=store.quarantines(self.environment),
                    first_seen=store.first_seen(self.environment),
                )
            audit = auditor.run(now=dt.datetime.fromtimestamp(self.clock(), dt.UTC))
            self.page.publish(audit, rollouts, store=store, repo=self.repo)
        finally:
            if store is not None:
                store.close()
        self._document = scrub_data(audit.to_json())
