"""Change windows computed in their own time zone (model/windows.py): a table of instants,
asserted in UTC, across both of Europe/Berlin's daylight-saving changes of 2026."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from reconciler.model.windows import opens, state


def _utc(text: str) -> float:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC).timestamp()


def _iso(moment: float | None) -> str | None:
    if moment is None:
        return None
    return dt.datetime.fromtimestamp(moment, dt.UTC).strftime("%Y-%m-%dT%H:%M")


def _windows(**over: object) -> SimpleNamespace:
    allow = [SimpleNamespace(rrule="FREQ=WEEKLY;BYDAY=MO", start="09:00", duration=8 * 3600.0)]
    fields: dict[str, object] = {"timezone": "Europe/Berlin", "allow": allow, "deny": []}
    fields.update(over)
    return SimpleNamespace(**fields)


# Berlin: CET (UTC+1) until 2026-03-29 02:00, CEST (UTC+2) until 2026-10-25 03:00, CET again.
WEEKLY = [
    # (now UTC, open?, next opening UTC)
    (
        "2026-03-23T07:59",
        False,
        "2026-03-23T08:00",
    ),  # last winter Monday: 09:00 = 08 UTC
    ("2026-03-23T08:00", True, None),
    ("2026-03-23T15:59", True, None),
    ("2026-03-23T16:00", False, "2026-03-30T07:00"),  # the first Monday of summer time: 07 UTC
    ("2026-03-29T01:30", False, "2026-03-30T07:00"),  # the night of the change itself
    ("2026-03-30T07:00", True, None),
    ("2026-03-30T06:59", False, "2026-03-30T07:00"),
    ("2026-10-19T07:00", True, None),  # the last Monday of summer time
    ("2026-10-19T15:00", False, "2026-10-26T08:00"),  # back on winter time: 08 UTC
    ("2026-10-25T01:30", False, "2026-10-26T08:00"),  # inside the repeated hour
    ("2026-10-26T07:59", False, "2026-10-26T08:00"),
    ("2026-10-26T08:00", True, None),
]


@pytest.mark.parametrize(("now", "is_open", "opening"), WEEKLY)
def test_weekly_window_in_berlin_across_both_dst_changes(
    now: str, is_open: bool, opening: str | None
) -> None:
    found = state(_windows(), _utc(now))
    assert found.open is is_open
    assert _iso(found.opens_at) == opening


def test_the_opening_reads_in_the_windows_zone() -> None:
    windows = _windows()
    found = state(windows, _utc("2026-03-24T10:00"))
    assert opens(windows, found) == "opens Mon 2026-03-30 09:00 Europe/Berlin"
    assert found.why == "outside the allowed windows"


FREEZE = SimpleNamespace(from_="2026-12-20T00:00", to="2027-01-04T00:00", reason="holiday freeze")


@pytest.mark.parametrize(
    ("now", "is_open", "opening", "why"),
    [
        ("2026-12-14T09:00", True, None, ""),  # Monday 10:00 Berlin, before the freeze
        ("2026-12-21T09:00", False, "2027-01-04T08:00", "holiday freeze"),  # a Monday inside
        ("2027-01-03T22:59", False, "2027-01-04T08:00", "holiday freeze"),
        ("2027-01-04T08:30", True, None, ""),
    ],
)
def test_a_deny_period_closes_even_an_allowed_window(
    now: str, is_open: bool, opening: str | None, why: str
) -> None:
    found = state(_windows(deny=[FREEZE]), _utc(now))
    assert (found.open, _iso(found.opens_at), found.why) == (is_open, opening, why)


def test_deny_alone_opens_when_it_ends() -> None:
    windows = _windows(allow=[], deny=[FREEZE])
    found = state(windows, _utc("2026-12-25T12:00"))
    assert (found.open, _iso(found.opens_at)) == (False, "2027-01-03T23:00")
    assert state(windows, _utc("2027-01-03T23:00")).open


def test_no_rules_is_always_open() -> None:
    assert state(_windows(allow=[]), _utc("2026-06-01T00:00")).open


def test_a_window_that_never_opens_says_so() -> None:
    rule = SimpleNamespace(rrule="FREQ=WEEKLY;COUNT=1", start="09:00", duration=3600.0)
    windows = _windows(allow=[rule])
    found = state(windows, _utc("2026-06-01T00:00"))
    assert (found.open, found.opens_at) == (False, None)
    assert opens(windows, found) == "does not open in the next two years"


def test_an_open_window_says_when_it_opened() -> None:
    from reconciler.model.windows import opened_at

    assert _iso(opened_at(_windows(), _utc("2026-03-30T10:00"))) == "2026-03-30T07:00"
    freeze = SimpleNamespace(from_="2026-03-30T00:00", to="2026-03-30T12:00", reason="x")
    assert _iso(opened_at(_windows(deny=[freeze]), _utc("2026-03-30T11:00"))) == "2026-03-30T10:00"


@pytest.mark.parametrize(
    ("rule", "now", "opening"),
    [
        ("FREQ=MINUTELY;INTERVAL=20", "2026-06-01T10:15", "2026-06-01T10:20"),
        ("FREQ=HOURLY;INTERVAL=5", "2026-06-01T10:15", "2026-06-01T15:00"),  # 17:00 Berlin
        ("FREQ=WEEKLY;INTERVAL=2", "2026-06-02T10:00", "2026-06-15T07:00"),  # even weeks from 2024
        ("FREQ=MONTHLY;BYMONTHDAY=15", "2026-06-16T10:00", "2026-07-15T07:00"),
        ("FREQ=YEARLY;BYMONTH=12;BYMONTHDAY=24", "2026-06-01T10:00", "2026-12-24T08:00"),
    ],
)
def test_rules_far_from_the_anchor_keep_their_phase(rule: str, now: str, opening: str) -> None:
    """Counting from near ``now`` gives the occurrences counted from the anchor itself."""
    from dateutil.rrule import rrulestr

    from reconciler.model.windows import ANCHOR

    start = "09:00" if "MINUTELY" not in rule and "HOURLY" not in rule else "00:00"
    windows = _windows(allow=[SimpleNamespace(rrule=rule, start=start, duration=60.0)])
    found = state(windows, _utc(now))
    assert _iso(found.opens_at) == opening
    hour = 9 if start == "09:00" else 0
    slow = rrulestr(rule, dtstart=ANCHOR.replace(hour=hour))
    local = dt.datetime.fromtimestamp(_utc(now), ZoneInfo("Europe/Berlin")).replace(tzinfo=None)
    expected = slow.after(local).replace(tzinfo=ZoneInfo("Europe/Berlin")).timestamp()
    assert found.opens_at == expected
