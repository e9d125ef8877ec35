"""Change windows, computed (design §14): whether a ``windows:`` block is open at an instant, and
when it opens next — in the window's own time zone, across daylight-saving changes.

Pure arithmetic on times (no clock, no I/O). Recurrence is dateutil's ``rrule`` and zones are
``zoneinfo``: an allow rule's occurrences are wall-clock times in ``timezone`` (09:00 stays
09:00 local whether the zone is on summer or winter time), and its ``duration`` is elapsed time
from each. A wall-clock time a spring-forward skips is read with the offset before the change
(``fold=0``). Deny periods are wall-clock ``from``/``to`` in the same zone, ``to`` excluded.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

#: Every rule's occurrences are counted from this wall-clock Monday: only ``INTERVAL`` > 1
#: rules depend on it (every other week counts from the week of 2024-01-01).
ANCHOR = dt.datetime(2024, 1, 1)
#: How far ahead the next opening is looked for before it is called "never".
HORIZON = 2 * 366 * 86400.0


@dataclass(frozen=True)
class WindowState:
    """A ``windows:`` block at one instant."""

    open: bool
    #: When closed: the next instant it opens (UTC seconds); None when not within HORIZON.
    opens_at: float | None = None
    why: str = ""  #: when closed: "outside the allowed windows" or a deny period's reason


def zone(name: str) -> ZoneInfo:
    """The time zone ``name`` (an IANA name such as ``Europe/Berlin``), or a ValueError."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(
            f"unknown time zone {name!r} (an IANA name such as Europe/Berlin)"
        ) from None


_FREQ = re.compile(r"FREQ=(\w+)", re.IGNORECASE)
_INTERVAL = re.compile(r"INTERVAL=(\d+)", re.IGNORECASE)
#: Fixed-length recurrence periods (months and years are counted apart).
_FIXED = {"WEEKLY": 7 * 86400, "DAILY": 86400, "HOURLY": 3600, "MINUTELY": 60, "SECONDLY": 1}
#: An occurrence is looked for at least this far back (a window may last that long).
LOOKBACK = dt.timedelta(days=8)


def recurrence(rule: str, start: str, near: dt.datetime | None = None) -> Any:
    """The rrule of ``rule`` (``FREQ=WEEKLY;BYDAY=MO``) at wall-clock ``start`` (``09:00``).

    Its occurrences are those of the rule counted from :data:`ANCHOR`; ``near`` (wall-clock)
    moves the rule's start forward by whole periods to a little before it, which keeps the same
    occurrences (a rule's defaults come from the anchor's weekday, day and minute, which whole
    periods keep) while sparing dateutil the walk from the anchor. A rule with ``COUNT`` is
    counted from the anchor itself.
    """
    text = rule.strip()
    if text.upper().startswith("RRULE:"):
        text = text[6:]
    if "DTSTART" in text.upper() or "\n" in text:
        raise ValueError(f"invalid RRULE {rule!r}: one RRULE line; the time of day is start:")
    at = parse_clock(start)
    anchor = ANCHOR.replace(hour=at.hour, minute=at.minute)
    if near is not None and "COUNT=" not in text.upper():
        anchor = _shifted(text, anchor, near - LOOKBACK)
    return _rule(text, anchor, rule)


@lru_cache(maxsize=512)
def _rule(text: str, anchor: dt.datetime, shown: str) -> Any:
    from dateutil.rrule import rrulestr  # type: ignore[import-untyped]

    try:
        return rrulestr(text, dtstart=anchor, cache=True)
    except (ValueError, TypeError, KeyError) as exc:
        raise ValueError(f"invalid RRULE {shown!r}: {exc}") from None


def _shifted(text: str, anchor: dt.datetime, before: dt.datetime) -> dt.datetime:
    """``anchor`` moved forward by whole periods of the rule, to at most ``before``."""
    freq = _FREQ.search(text)
    step = _INTERVAL.search(text)
    every = int(step.group(1)) if step else 1
    kind = freq.group(1).upper() if freq else ""
    if every < 1 or before <= anchor:
        return anchor
    if kind in _FIXED:
        period = _FIXED[kind] * every
        whole = int((before - anchor).total_seconds() // period)
        return anchor + dt.timedelta(seconds=whole * period)
    months = {"MONTHLY": every, "YEARLY": 12 * every}.get(kind)
    if months is None:
        return anchor
    elapsed = (before.year - anchor.year) * 12 + before.month - anchor.month - 1
    whole = max(elapsed // months, 0) * months
    year, month = divmod(anchor.month - 1 + whole, 12)
    return anchor.replace(year=anchor.year + year, month=month + 1)


def parse_clock(text: str) -> dt.time:
    """``09:00`` as a time of day, or a ValueError."""
    try:
        return dt.time.fromisoformat(text)
    except (TypeError, ValueError):
        raise ValueError(f"start {text!r} is not a time of day like '09:00'") from None


def parse_local(text: str) -> dt.datetime:
    """``2026-12-20T00:00`` (wall-clock, no offset) as a naive datetime, or a ValueError."""
    try:
        moment = dt.datetime.fromisoformat(text)
    except (TypeError, ValueError):
        raise ValueError(f"{text!r} is not a date and time like '2026-12-20T00:00'") from None
    if moment.tzinfo is not None:
        raise ValueError(f"{text!r}: give wall-clock time in windows.timezone, without an offset")
    return moment


def _utc(local: dt.datetime, tz: ZoneInfo) -> float:
    return local.replace(tzinfo=tz).timestamp()


def _local(moment: float, tz: ZoneInfo) -> dt.datetime:
    return dt.datetime.fromtimestamp(moment, tz).replace(tzinfo=None)


def _allowed(windows: Any, tz: ZoneInfo, moment: float) -> tuple[bool, float | None]:
    """(whether an allow rule covers ``moment``, the next opening after it)."""
    if not windows.allow:
        return True, None
    here = _local(moment, tz)
    nearest: float | None = None
    for rule in windows.allow:
        occurrences = recurrence(rule.rrule, rule.start, here)
        last = occurrences.before(here, inc=True)
        if last is not None and _utc(last, tz) <= moment < _utc(last, tz) + rule.duration:
            return True, None
        following = occurrences.after(here, inc=False)
        if following is not None:
            at = _utc(following, tz)
            nearest = at if nearest is None else min(nearest, at)
    return False, nearest


def _denied(windows: Any, tz: ZoneInfo, moment: float) -> tuple[str, float] | None:
    """The deny period covering ``moment`` (its reason, its end), if any."""
    for period in windows.deny:
        begin, end = _utc(parse_local(period.from_), tz), _utc(parse_local(period.to), tz)
        if begin <= moment < end:
            return period.reason, end
    return None


def state(windows: Any, moment: float) -> WindowState:
    """Whether ``windows`` (the inventory's ``windows:``) is open at ``moment`` (UTC seconds),
    and when closed, when it opens next."""
    tz = zone(windows.timezone)
    denied = _denied(windows, tz, moment)
    allowed, _ = _allowed(windows, tz, moment)
    if denied is None and allowed:
        return WindowState(True)
    why = denied[0] if denied is not None else "outside the allowed windows"
    candidate = moment
    for _ in range(1000):  # each turn moves past one deny period or to one opening
        if candidate - moment > HORIZON:
            break
        blocked = _denied(windows, tz, candidate)
        if blocked is not None:
            candidate = blocked[1]
            continue
        ok, following = _allowed(windows, tz, candidate)
        if ok:
            return WindowState(False, candidate, why)
        if following is None:
            break
        candidate = following
    return WindowState(False, None, why)


def when(windows: Any, moment: float) -> str:
    """``Mon 2026-12-07 09:00 Europe/Berlin``: an instant in the window's zone, for people."""
    local = dt.datetime.fromtimestamp(moment, zone(windows.timezone))
    return f"{local:%a %Y-%m-%d %H:%M} {windows.timezone}"


def opens(windows: Any, found: WindowState) -> str:
    """``opens Mon 2026-12-07 09:00 Europe/Berlin`` (or that it does not open within HORIZON)."""
    if found.opens_at is None:
        return "does not open in the next two years"
    return f"opens {when(windows, found.opens_at)}"


def opened_at(windows: Any, moment: float) -> float:
    """When the window open at ``moment`` opened: its allow rule's occurrence, or the end of
    a deny period after it (the later). Without allow rules, the end of the last deny period
    before ``moment`` (or ``moment`` minus HORIZON when none)."""
    tz = zone(windows.timezone)
    here = _local(moment, tz)
    start = moment - HORIZON
    if windows.allow:
        found = []
        for rule in windows.allow:
            last = recurrence(rule.rrule, rule.start, here).before(here, inc=True)
            if last is not None and moment < _utc(last, tz) + rule.duration:
                found.append(_utc(last, tz))
        start = min(found, default=moment)
    ends = [_utc(parse_local(p.to), tz) for p in windows.deny]
    return max([start, *(end for end in ends if end <= moment)])
