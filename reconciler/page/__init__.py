"""The on-call page: what runs where, right now, as HTML the daemon serves on its listener.

It shows what the daemon published after its last step (the judged audit, each bundle's
rollout, the state store's event log) in the words of ``reconciler skew`` and ``reconciler
diff``. It never writes: GET only, no form, no endpoint that changes anything. Pages are
rendered on the server (Jinja2, autoescaped, imported only when a page is first rendered, never
on the CLI's cold path); a small inline script under a per-response CSP nonce sorts, filters,
counts the deadline down and refreshes, and the page reads the same without it.
"""

from __future__ import annotations

from .site import OnCallPage

__all__ = ["OnCallPage"]
