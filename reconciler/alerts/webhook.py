"""The plain webhook (design §8, §15): the alert's JSON, signed with HMAC-SHA256 of the exact body
in ``X-Reconciler-Signature-256`` when the alert has a ``secret``."""

from __future__ import annotations

import hashlib
import hmac
import json

from .alert import Alert

SIGNATURE_HEADER = "X-Reconciler-Signature-256"


def body(alert: Alert) -> bytes:
    """The bytes POSTed (and signed)."""
    return json.dumps(alert.payload(), separators=(",", ":")).encode("utf-8")


def signature(secret: str, data: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 of ``data`` keyed with ``secret``."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), data, hashlib.sha256).hexdigest()
