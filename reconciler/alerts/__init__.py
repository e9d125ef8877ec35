"""Alerts (design §8, §15): what a condition says, and where it goes — a webhook (optionally
signed), Slack, PagerDuty, GitHub deployments — routed by condition and bundle, delivered off
the step's path with bounded retries. One module per destination type; no URL or secret is
ever named in an error or a log line."""

from __future__ import annotations

from .alert import PHRASES, Alert, AlertState, dedup_key
from .send import deliver

__all__ = ["PHRASES", "Alert", "AlertState", "dedup_key", "deliver"]
