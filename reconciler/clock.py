"""The tool's clock: real time, or ``RECONCILER_NOW`` (ISO 8601 or Unix seconds) for replays."""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Callable

from .errors import ReconcilerError


def now() -> dt.datetime:
    """The current time; ``RECONCILER_NOW`` pins it for replays and tests."""
    pinned = os.environ.get("RECONCILER_NOW")
    if not pinned:
        return dt.datetime.now(dt.UTC)
    try:
        return dt.datetime.fromtimestamp(float(pinned), dt.UTC)
    except ValueError:
        pass
    try:
        moment = dt.datetime.fromisoformat(pinned)
    except ValueError:
        raise ReconcilerError(
            f"RECONCILER_NOW={pinned!r} is neither ISO 8601 nor Unix seconds"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def running() -> Callable[[], float]:
    """A clock for commands that run a while: real time, or ``RECONCILER_NOW`` moving forward."""
    if not os.environ.get("RECONCILER_NOW"):
        return time.time
    pinned, started = now().timestamp(), time.monotonic()
    return lambda: pinned + (time.monotonic() - started)
