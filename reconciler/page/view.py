"""The environment page's header, banners and skew table, as plain data for the template.

The table has exactly the columns and cells of ``reconciler skew`` (a test compares them), one
row per target and bundle; sorting and filtering by status are done here too, so a link works
without the page's script (which does the same in the browser).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from urllib.parse import urlencode

from ..audit.results import Audit
from ..audit.verdict import Authority
from ..diff.change import worst
from ..model.duration import format_duration
from ..model.rollout import Phase, Rollout
from ..model.status import Status
from ..report.fleetbar import TierBar, tier_bars
from ..report.labels import age, revision_label, verdict_mark, worst_change
from ..report.rollout import waiting

#: The skew table's columns: (sort key, heading), as ``reconciler skew`` names them.
COLUMNS = (
    ("target", "target"),
    ("kind", "kind"),
    ("bundle", "bundle"),
    ("status", "status"),
    ("revision", "revision"),
    ("behind", "behind"),
    ("age", "skew age"),
    ("change", "worst change"),
)
#: Columns sorted as numbers (the rest as text).
NUMERIC = frozenset({"status", "behind", "age", "change"})
#: What a status reads as at a glance; the word always stands beside the colour.
TONE = {
    "in_sync": "ok",
    "lagging": "warn",
    "not_loaded": "warn",
    "missing": "bad",
    "drifted": "bad",
    "invalid": "bad",
    "unreachable": "bad",
    "stalled": "bad",  # the filters for the verdict's marks
    "held": "warn",
}


@dataclass(frozen=True)
class Row:
    """One target and bundle, as one line of ``reconciler skew``."""

    target: str
    kind: str
    bundle: str
    status: str  #: the status word, e.g. ``lagging``
    mark: str  #: ``STALLED``, ``held (quarantined)`` or ""
    revision: str
    behind: str
    skew_age: str
    worst_change: str
    keys: Mapping[str, str | int] = field(default_factory=dict)  #: sort keys by column
    hidden: bool = False  #: filtered out (the page's own ``?status=``)
    #: A devices target: one distribution bar per tier (design §13).
    bars: tuple[TierBar, ...] = ()

    @property
    def tone(self) -> str:
        return TONE.get(self.status, "bad")

    @property
    def filters(self) -> str:
        """The filter words this row answers to: its status, and ``stalled``/``held``."""
        extra = {"STALLED": " stalled", "held (quarantined)": " held"}.get(self.mark, "")
        return self.status + extra


@dataclass(frozen=True)
class Banner:
    """A bundle whose rollout needs a person: STALLED, PAUSED or QUARANTINED, why and who; or
    one that WAITING holds legitimately (a promotion, a closed window), until when."""

    word: str
    bundle: str
    why: str
    who: str = ""
    blocking: tuple[tuple[str, str], ...] = ()  #: (target, why) that hold it up

    @property
    def tone(self) -> str:
        return "warn" if self.word in ("PAUSED", "WAITING") else "bad"


@dataclass(frozen=True)
class Header:
    """The desired revision, its age and subject, coverage and counts, and when it was seen."""

    environment: str
    revision: str  #: ``v47 (1a2b3c4)``
    sha: str
    committed_at: str  #: ISO 8601
    age: str  #: ``6h00m``
    subject: str
    coverage: str  #: ``50%``
    counts: tuple[tuple[str, int], ...]  #: (status, targets), the non-zero ones
    targets: int
    audited_at: str  #: ISO 8601
    audited_ago: str
    fetch_error: str | None = None


def header(audit: Audit, subject: str, now: float, fetch_error: str | None) -> Header:
    counts = tuple((status, n) for status, n in audit.counts().items() if n)
    audited = audit.generated_at.timestamp()
    return Header(
        environment=audit.environment,
        revision=revision_label(audit.desired_revision, audit.tags),
        sha=audit.desired_revision,
        committed_at=iso(audit.committed_at.timestamp()),
        age=format_duration(now - audit.committed_at.timestamp()),
        subject=subject,
        coverage=f"{audit.coverage:.0%}",
        counts=counts,
        targets=len(audit.targets),
        audited_at=iso(audited),
        audited_ago=format_duration(now - audited),
        fetch_error=fetch_error,
    )


def banners(audit: Audit, rollouts: Mapping[str, Rollout | None], now: float) -> list[Banner]:
    """One banner per bundle that is quarantined, stalled or paused (in that order of say)."""
    out: list[Banner] = []
    for bundle, verdict in audit.verdicts.items():
        q = verdict.quarantine
        rollout = verdict.rollout or rollouts.get(bundle)
        paused = rollout is not None and rollout.phase is Phase.PAUSED and rollout.pause
        if q is not None:
            who = f"rolled back by {q.by} {format_duration(now - q.at)} ago"
            out.append(Banner("QUARANTINED", bundle, verdict.message, who))
        elif verdict.stalled:
            who = ""
            if paused and rollout is not None and rollout.pause is not None:
                who = f"paused by {rollout.pause.by}: {rollout.pause.reason}"
            elif verdict.authority is Authority.GIT:
                who = "judged from git commit times (no recorded rollout)"
            why = verdict.message or "stalled"
            if rollout is not None and rollout.rollback_reason:
                why += f" ({rollout.rollback_reason}: {rollout.rollback_message})"
            out.append(Banner("STALLED", bundle, why, who, verdict.blocking))
        elif paused and rollout is not None and rollout.pause is not None:
            pause = rollout.pause
            ago = format_duration(now - pause.at)
            why = f"{pause.reason} ({ago} ago; the progress deadline still runs)"
            out.append(Banner("PAUSED", bundle, why, f"paused by {pause.by}", rollout.blocking()))
        elif verdict.waiting is not None:
            reason, message, _ = verdict.waiting
            words = waiting(rollout, now) if rollout is not None else f"{reason}: {message}"
            out.append(Banner("WAITING", bundle, words, "a legitimate wait: not a stall"))
    return out


def skew_rows(audit: Audit) -> list[Row]:
    """The rows of ``reconciler skew``: targets x bundles, in the inventory's order."""
    rows = []
    for target in audit.targets:
        for result in target.bundles:
            revision = revision_label(result.observed_revision, audit.tags)
            if result.status in (Status.UNREACHABLE, Status.INVALID, Status.MISSING):
                revision = "?"
            elif result.status is Status.DRIFTED:
                revision = "out of band"
            top = worst(result.changes)
            keys: dict[str, str | int] = {
                "target": target.name,
                "kind": target.spec.kind,
                "bundle": result.bundle,
                "status": result.status.rank * 2 + (1 if result.stalled else 0),
                "revision": revision,
                "behind": -1 if result.behind is None else result.behind,
                "age": result.lag_seconds or 0,
                "change": -1 if top is None else top.severity.rank,
            }
            rows.append(
                Row(
                    target=target.name,
                    kind=target.spec.kind,
                    bundle=result.bundle,
                    status=str(result.status),
                    mark=verdict_mark(result).strip(),
                    revision=revision,
                    behind="-" if result.behind is None else str(result.behind),
                    skew_age=age(result.lag_seconds),
                    worst_change=worst_change([result]) or (result.error or ""),
                    keys=keys,
                    bars=tuple(tier_bars(result, audit.tags)),
                )
            )
    return rows


def arrange(rows: list[Row], query: Mapping[str, str]) -> tuple[list[Row], str, str, str]:
    """Rows sorted by ``?sort=`` (``order=asc|desc``) and filtered by ``?status=``, as the
    script would; returns them with the sort column, order and filter actually applied."""
    column = query.get("sort", "")
    order = "desc" if query.get("order") == "desc" else "asc"
    wanted = query.get("status", "")
    if column in dict(COLUMNS):
        rows = sorted(rows, key=lambda r: r.keys[column], reverse=order == "desc")
    else:
        column = ""
    known = {word for row in rows for word in row.filters.split()}
    if wanted not in known:
        wanted = ""
    if wanted:
        rows = [replace(r, hidden=wanted not in r.filters.split()) for r in rows]
    return rows, column, order, wanted


def filter_counts(rows: list[Row]) -> list[tuple[str, int]]:
    """(filter word, rows) for the filter bar: each status present, then stalled and held."""
    counts: dict[str, int] = {}
    for row in rows:
        for word in row.filters.split():
            counts[word] = counts.get(word, 0) + 1
    order = [str(s) for s in Status] + ["stalled", "held"]
    return [(word, counts[word]) for word in order if word in counts]


@dataclass(frozen=True)
class Link:
    """A column heading's sort link or a filter's link (what the script does, as a URL)."""

    key: str
    text: str
    href: str
    state: str  #: a heading's aria-sort (ascending, descending, none); a filter's "true"/""
    count: int = 0


def sort_links(column: str, order: str, wanted: str) -> list[Link]:
    """Each heading links to the table sorted by it (again: the other way round)."""
    links = []
    for key, text in COLUMNS:
        again = "desc" if key == column and order == "asc" else "asc"
        state = "none" if key != column else ("ascending" if order == "asc" else "descending")
        links.append(Link(key, text, _href(key, again, wanted), state))
    return links


def filter_links(rows: list[Row], column: str, order: str, wanted: str) -> list[Link]:
    """``all``, then one link per status present (and ``stalled``, ``held``), with counts."""
    links = [Link("", "all", _href(column, order, ""), "true" if not wanted else "", len(rows))]
    for word, count in filter_counts(rows):
        state = "true" if word == wanted else ""
        links.append(Link(word, word, _href(column, order, word), state, count))
    return links


def _href(column: str, order: str, wanted: str) -> str:
    query = {"sort": column, "order": order} if column else {}
    if wanted:
        query["status"] = wanted
    return "/?" + urlencode(query) if query else "/"


def iso(moment: float) -> str:
    """``2026-11-20T12:00:00Z``."""
    stamp = dt.datetime.fromtimestamp(moment, dt.UTC).isoformat(timespec="seconds")
    return stamp.replace("+00:00", "Z")
