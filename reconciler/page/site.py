"""The page's routes over what the daemon published last: ``/`` and ``/targets/<name>``.

:class:`OnCallPage` keeps one snapshot, replaced whole after each step (:meth:`publish`, from
the daemon's loop) and read by the server's threads (:meth:`respond`), which render it as of
the moment they are asked. Before the first audit every page answers 503, "starting".
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from ..bundle.gitrepo import git
from ..errors import ReconcilerError

if TYPE_CHECKING:
    from ..audit.results import Audit
    from ..model.rollout import Rollout
    from .render import Response

#: Events read from the state store for the timeline (many target status changes fold into one).
EVENTS = 200
#: The page refreshes itself no more often than this (seconds), whatever the daemon's interval.
MIN_REFRESH = 5.0


@dataclass(frozen=True)
class Snapshot:
    """What one step of the daemon (or the demo's watcher) published."""

    audit: Audit
    rollouts: Mapping[str, Rollout | None]
    events: list[dict[str, Any]] = field(default_factory=list)
    events_error: str = ""
    subject: str = ""
    fetch_error: str | None = None


class OnCallPage:
    """The environment's pages; :meth:`respond` is what the daemon's server calls."""

    def __init__(
        self,
        environment: str,
        *,
        interval: float = 30.0,
        clock: Callable[[], float] = time.time,
        base: str = "",
    ) -> None:
        self.environment = environment
        #: Where this environment's pages live: "" (a one-environment daemon) or
        #: ``/environments/<name>`` (a daemon of several).
        self.base = base
        self.refresh = max(interval, MIN_REFRESH)
        self.clock = clock
        self._snapshot: Snapshot | None = None
        self._subjects: dict[str, str] = {}
        self._lock = threading.Lock()

    def publish(
        self,
        audit: Audit,
        rollouts: Mapping[str, Rollout | None],
        *,
        store: Any = None,
        repo: Path | None = None,
        fetch_error: str | None = None,
    ) -> None:
        """Keep this step's audit, rollouts and (read now) the store's recent events.

        Called from the loop's thread; never raises for the page's sake: an event log that
        cannot be read is said on the page instead."""
        events: list[dict[str, Any]] = []
        events_error = ""
        if store is not None:
            try:
                events = list(store.events(self.environment, EVENTS))
            except Exception as exc:  # the page must never fail a step
                events_error = f"{type(exc).__name__}: {exc}"
        snapshot = Snapshot(
            audit=audit,
            rollouts=copy.deepcopy(dict(rollouts)),  # the loop may go on changing its own
            events=events,
            events_error=events_error,
            subject=self._subject(repo, audit.desired_revision),
            fetch_error=fetch_error,
        )
        with self._lock:
            self._snapshot = snapshot

    def respond(self, path: str, query: Mapping[str, str]) -> Response:
        """The page at ``path`` (``/`` or ``/targets/<name>``), rendered as of now."""
        from . import render

        with self._lock:
            snapshot = self._snapshot
        if snapshot is None:
            return render.page(
                "starting.html",
                HTTPStatus.SERVICE_UNAVAILABLE,
                environment=self.environment,
                title=f"{self.environment}: starting",
                base=self.base,
            )
        now = self.clock()
        if path == "/":
            return render.page("index.html", **self._index(snapshot, query, now))
        if path.startswith("/targets/"):
            return self._target(snapshot, unquote(path.removeprefix("/targets/")), now)
        return self._not_found(snapshot, f"no page at {path}")

    def _index(self, s: Snapshot, query: Mapping[str, str], now: float) -> dict[str, Any]:
        from .panel import panels
        from .timeline import timeline
        from .view import NUMERIC, arrange, banners, filter_links, header, skew_rows, sort_links

        rows = skew_rows(s.audit)
        arranged, column, order, wanted = arrange(rows, query)
        head = header(s.audit, s.subject, now, s.fetch_error)
        return {
            "title": f"{head.environment} at {head.revision}",
            "environment": self.environment,
            "base": self.base,
            "head": head,
            "banners": banners(s.audit, s.rollouts, now),
            "headings": sort_links(column, order, wanted),
            "numeric": NUMERIC,
            "rows": arranged,
            "sort": column,
            "order": order,
            "wanted": wanted,
            "filters": filter_links(rows, column, order, wanted),
            "panels": panels(s.audit, s.rollouts, now),
            "moments": timeline(s.events, s.audit.tags, now),
            "events_error": s.events_error,
            "refresh_ms": int(self.refresh * 1000),
            "now": now,
        }

    def _target(self, s: Snapshot, name: str, now: float) -> Response:
        from . import render
        from .diffpage import find, target_diff
        from .view import iso

        target = find(s.audit, name)
        if target is None:
            return self._not_found(s, f"no target named {name!r} in {self.environment}")
        view = target_diff(s.audit, target)
        return render.page(
            "target.html",
            title=f"{view.name} in {self.environment}",
            environment=self.environment,
            base=self.base,
            target=view,
            audited_at=iso(s.audit.generated_at.timestamp()),
            refresh_ms=int(self.refresh * 1000),
            now=now,
        )

    def _not_found(self, s: Snapshot, message: str) -> Response:
        from . import render

        names = [t.name for t in s.audit.targets]
        return render.page(
            "not_found.html",
            HTTPStatus.NOT_FOUND,
            title="not found",
            environment=self.environment,
            base=self.base,
            message=message,
            targets=names,
        )

    def _subject(self, repo: Path | None, sha: str) -> str:
        """The desired commit's subject line (asked of git once per revision)."""
        if repo is None or not sha:
            return ""
        if sha not in self._subjects:
            try:
                done = git(repo, "log", "-1", "--format=%s", sha, "--", text=True, timeout=10)
                self._subjects[sha] = done.stdout.strip() if done.returncode == 0 else ""
            except (OSError, ReconcilerError):
                return ""
        return self._subjects[sha]


def environments_index(
    environments: list[tuple[str, str, dict[str, Any] | None]],
) -> Response:
    """A daemon of several environments: one line each, with its role and verdict."""
    from . import render

    rows = []
    for name, role, status in environments:
        summary = (status or {}).get("summary", {})
        rows.append(
            {
                "name": name,
                "role": role,
                "coverage": summary.get("coverage"),
                "stalled": bool(summary.get("stalled")),
                "quarantined": bool(summary.get("quarantined")),
                "starting": status is None,
            }
        )
    return render.page(
        "environments.html", title="environments", environment="", rows=rows, base=""
    )


def not_found(path: str) -> Response:
    """No page at ``path``."""
    from . import render

    return render.page(
        "not_found.html",
        HTTPStatus.NOT_FOUND,
        title="not found",
        environment="",
        message=f"no page at {path}",
        targets=[],
        base="",
    )
