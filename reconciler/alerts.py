"""Webhook alerts (design §8): a Slack-compatible JSON POST a person can read, with machine fields.

Webhook URLs are secrets (a Slack URL is its own credential): no error or log line made here
names a URL, a header or an expanded value; webhooks are told apart by their 1-based position.
Each URL is remembered by :mod:`reconciler.secrets` once expanded, and every payload is scrubbed
of known secrets before it is sent (a reason may quote what a target reflected back).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from .errors import ConfigError
from .revisions import revision_label
from .secrets import remember_url, scrub, scrub_data

if TYPE_CHECKING:
    import requests

    from .model.inventory import AlertSpec

log = logging.getLogger(__name__)

AlertState = Literal["firing", "resolved"]

#: How each known condition reads in the ``text`` line; others read as their name.
PHRASES: dict[str, str] = {
    "stalled": "rollout stalled",  #: no target converged for progress_deadline
    "paused": "rollout paused",  #: by a person or a failing health gate
    "quarantined": "desired digest quarantined",  #: rolled back from; nothing is applied
    "drifted": "target changed out of band",  #: a converged target's content moved by hand
    "health": "advisory health check failing",  #: a warning; it never pauses a wave
    "rollback_impossible": "rollback impossible",  #: what a target ran before is unknown
    "rollback_failed": "rollback failed",  #: a write of on_stall's rollback failed
}
#: At most this many blocking targets are spelled out in ``text``; ``targets`` holds them all.
TEXT_TARGETS = 10
#: Retries after the first attempt, for refused connections and 429/5xx answers.
RETRIES = 2
#: Seconds of exponential backoff between retries (urllib3: 0, then 2 x this, ...).
BACKOFF = 0.25
#: Answers worth another try: rate limited, or the receiver is briefly down.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})

_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


@dataclass(frozen=True)
class Alert:
    """One condition of one bundle's rollout in one environment, firing or resolved."""

    environment: str
    bundle: str
    condition: str  #: e.g. "stalled" (see :data:`PHRASES`)
    state: AlertState
    revision: str | None  #: the revision the condition was computed for
    targets: tuple[tuple[str, str], ...]  #: (target name, reason) of the blocking targets
    message: str = ""
    level: Literal["error", "warning"] = "error"  #: warning: e.g. an advisory health check
    scope: str | None = None  #: the one target a ``converge --target`` run concerns

    def text(self) -> str:
        """The line a person reads in the chat channel (Slack mrkdwn, escaped)."""
        phrase = PHRASES.get(self.condition, self.condition.replace("_", " "))
        at = f" at {_short(self.revision)}" if self.revision else ""
        scope = f" (converge --target {self.scope})" if self.scope else ""
        head = f"{self.environment} / {self.bundle}: {phrase}{at}{scope}"
        if self.state == "resolved":
            return _escape(f":white_check_mark: {head} — resolved")
        emoji = ":warning:" if self.level == "warning" else ":rotating_light:"
        parts = [f"{name}: {reason}" if reason else name for name, reason in self.targets]
        if len(parts) > TEXT_TARGETS:
            parts[TEXT_TARGETS:] = [f"and {len(parts) - TEXT_TARGETS} more"]
        text = f"{emoji} {head}"
        if parts:
            text += " — " + "; ".join(parts)
        if self.message:
            text += f"\n{self.message}"
        return _escape(scrub(text))  # scrubbed before escaping, which could hide a secret

    def payload(self) -> dict[str, Any]:
        """The JSON body: Slack's ``text`` plus the machine fields, known secrets masked."""
        body = {
            "text": self.text(),
            "environment": self.environment,
            "bundle": self.bundle,
            "condition": self.condition,
            "state": self.state,
            "level": self.level,
            "revision": self.revision,
            **({"scope": self.scope} if self.scope else {}),
            "targets": [{"name": name, "reason": reason} for name, reason in self.targets],
            "message": self.message,
        }
        return scrub_data(body)  # a reason may quote what a target reflected back


def _short(revision: str) -> str:
    return revision_label(revision) if _SHA.fullmatch(revision) else revision


def _escape(text: str) -> str:
    # Slack reads <...> as links and mentions; a reason quoted from a target must not be one.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def deliver(
    alert: Alert, specs: Sequence[AlertSpec], env: Mapping[str, str], *, timeout: float = 5.0
) -> list[str]:
    """POST ``alert`` to every webhook; one short error per webhook that did not take it.

    ``timeout`` bounds each attempt (connect and read); refused connections and 429/5xx answers
    are retried :data:`RETRIES` times with backoff. Never raises for a webhook's failure.
    """
    if not specs:
        return []
    # requests costs ~100 ms to import: only commands that send alerts pay for it.
    import requests
    from requests.adapters import HTTPAdapter
    from urllib3.util.retry import Retry

    retry = Retry(
        total=RETRIES,
        connect=RETRIES,
        read=0,  # the server may have taken a read-timed-out POST: a retry could post it twice
        status=RETRIES,
        other=0,  # e.g. an untrusted certificate: asking again will not change the answer
        status_forcelist=RETRY_STATUSES,
        allowed_methods=frozenset({"POST"}),
        backoff_factor=BACKOFF,
        respect_retry_after_header=False,  # a long Retry-After must not stall the daemon loop
        raise_on_status=False,  # hand back the last answer, so the error names its status
        raise_on_redirect=False,
    )
    body = alert.payload()
    errors: list[str] = []
    _QUIET.install()
    with requests.Session() as session, _QUIET:
        adapter = HTTPAdapter(max_retries=retry)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        for number, spec in enumerate(specs, start=1):
            problem = _post(session, number, spec, env, body, timeout)
            if problem is not None:
                errors.append(f"webhook {number}: {problem}")
                # Debug only: the caller reports the returned errors its own way.
                log.debug(
                    "alert %s/%s: webhook %d: %s", alert.environment, alert.bundle, number, problem
                )
    return errors


class _Quiet(logging.Filter):
    """Drops urllib3's log records made while this thread delivers: they quote the URL's path.

    Thread-local, so urllib3 logging elsewhere in the process is left alone.
    """

    def __init__(self) -> None:
        super().__init__()
        self._local = threading.local()

    def install(self) -> None:
        # A logger's filters do not apply to its children: attach to each urllib3 logger.
        names = [n for n in list(logging.root.manager.loggerDict) if n.startswith("urllib3")]
        for name in {"urllib3", *names}:
            logging.getLogger(name).addFilter(self)  # a no-op when already there

    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(self._local, "active", False)

    def __enter__(self) -> None:
        self._local.active = True

    def __exit__(self, *exc: object) -> None:
        self._local.active = False


_QUIET = _Quiet()


def _post(
    session: requests.Session,
    number: int,
    spec: AlertSpec,
    env: Mapping[str, str],
    body: dict[str, Any],
    timeout: float,
) -> str | None:
    """None when the webhook took the alert, else why not (naming no URL)."""
    from .sources.env import expand  # the sources package loads pydantic: only when sending

    try:
        url = expand(spec.url, env, f"webhook {number}")
    except ConfigError as exc:
        # The message names the variable only; drop the "webhook N: " prefix we add again.
        return str(exc).removeprefix(f"webhook {number}: ")
    remember_url(url)  # the whole URL is the credential, not only the variables in it
    if not url.startswith(("http://", "https://")):
        return "URL must start with http:// or https://"
    try:
        response = session.post(url, json=body, timeout=timeout, allow_redirects=False)
    except Exception as exc:  # not only RequestException: urllib3 lets some URL errors through
        return _cause(exc, timeout)
    with response:
        if 200 <= response.status_code < 300:
            return None
        return f"HTTP {response.status_code}"


def _cause(exc: BaseException, timeout: float) -> str:
    """A short, URL-free name for a transport failure (exception texts quote the URL)."""
    import socket
    import ssl

    import requests
    import urllib3.exceptions

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(
            current, requests.Timeout | urllib3.exceptions.TimeoutError | TimeoutError
        ) and not isinstance(current, urllib3.exceptions.NewConnectionError):
            return f"timed out after {timeout:g} s"
        if isinstance(current, ConnectionRefusedError):
            return "connection refused"
        if isinstance(current, socket.gaierror):
            return "host name not resolved"
        if isinstance(current, ssl.SSLCertVerificationError):
            return "TLS certificate not trusted"
        if isinstance(current, ssl.SSLError):
            return "TLS error"
        if isinstance(current, ConnectionResetError):
            return "connection reset"
        nested = getattr(current, "reason", None)  # urllib3's MaxRetryError keeps its cause here
        if isinstance(nested, BaseException):
            current = nested
        else:
            current = current.__cause__ or current.__context__
    name = type(exc).__name__
    if name in ("InvalidURL", "MissingSchema", "InvalidSchema", "LocationParseError", "ValueError"):
        return "invalid URL"
    return f"request failed ({name})"
