"""The daemon's log: one JSON object per line on stderr, known secrets masked (design §11)."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from ..secrets import scrub


def log(event: str, **fields: Any) -> None:
    """One JSON line on stderr per event (structured logs; known secrets masked, design §11)."""
    record = {"ts": round(time.time(), 3), "event": event, **fields}
    sys.stderr.write(scrub(json.dumps(record, default=str)) + "\n")
    sys.stderr.flush()
