"""The serving side of a traffic canary (design §12.1): which digest of a bundle serves a request,
asked of the official Unleash SDK (the variant of ``{bundle}.release``), and that digest's staged
copy, loaded once, verified and kept in a bounded cache. Needs only the SDK (the ``client`` extra).

```python
client = ReleaseClient(bundle="support-agent", unleash={...}, staged_url=".../{digest_hex}.json")
client.start(wait=10)  # until the SDK's first fetch is in (a serving process wants it)
agent = client.bundle({"userId": "u-17", "segment": "es"})  # .digest, .revision, .components
client.stop()
```
"""

from __future__ import annotations

import functools
import json
import re
import threading
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .canonical import bundle_digest, component_digests

#: Staged copies kept in memory: a rollout serves two digests, a rollback a third.
CACHE_SIZE = 8
#: A bundle digest as a payload names it.
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
#: Largest staged copy read (a rendered bundle).
MAX_DOCUMENT = 16 * 1024 * 1024


class ReleaseError(Exception):
    """No bundle for this request: no variant, a bad payload, or a staged copy that cannot be
    loaded or does not match its digest. The message names the flag or the digest."""


@dataclass(frozen=True)
class Agent:
    """The bundle that serves one request: label its metrics with ``digest``."""

    digest: str
    revision: str | None
    components: Mapping[str, Any]
    variant: str


class ReleaseClient:
    """The release flag of ``bundle`` through the official Unleash SDK (``unleash`` are its
    ``UnleashClient`` keyword arguments), and the staged copies at ``staged_url`` (with
    ``{digest_hex}``, and ``{bundle}`` if wanted)."""

    def __init__(
        self,
        bundle: str,
        unleash: Mapping[str, Any],
        staged_url: str,
        *,
        flag: str = "{bundle}.release",
        cache_size: int = CACHE_SIZE,
        timeout: float = 10.0,
    ) -> None:
        if "{digest_hex}" not in staged_url:
            raise ValueError("staged_url must name the digest: put {digest_hex} in it")
        self.bundle_name = bundle
        self.flag = flag.replace("{bundle}", bundle)
        self.staged_url = staged_url.replace("{bundle}", bundle)
        self.timeout = timeout
        self._options = dict(unleash)
        self._sdk: Any = None
        #: The verified staged copy (components) of a digest, kept in a bounded LRU cache.
        self.staged = functools.lru_cache(maxsize=cache_size)(self._fetch)

    def start(self, wait: float | None = None) -> None:
        """Start the SDK: it fetches the flags now and every ``refresh_interval`` after. A fetch
        can fail or miss a flag just written (the server publishes writes on its own schedule),
        and until one has it, ``bundle()`` raises ReleaseError (no variant). With ``wait``,
        return only once the SDK knows the release flag, or raise ReleaseError after ``wait``
        seconds."""
        from UnleashClient.clients.unleash_client import UnleashClient
        from UnleashClient.events import UnleashEventType

        known = threading.Event()
        theirs = self._options.get("event_callback")

        def on_event(event: Any) -> None:
            # READY: flags loaded (a fetch, or the SDK's cache); FETCHED: every new answer.
            sdk = self._sdk
            loaded = event.event_type in (UnleashEventType.READY, UnleashEventType.FETCHED)
            if loaded and sdk is not None and self.flag in sdk.feature_definitions():
                known.set()
            if theirs is not None:
                theirs(event)

        self._sdk = UnleashClient(**{**self._options, "event_callback": on_event})
        self._sdk.initialize_client()
        if wait is not None and not known.wait(wait):
            raise ReleaseError(
                f"flag {self.flag!r} is unknown to the Unleash SDK after {wait:g} s"
                " (not created, or not in the token's environment or project)"
            )

    def stop(self) -> None:
        """Stop the SDK's refreshes and metrics."""
        if self._sdk is not None:
            self._sdk.destroy()
            self._sdk = None

    def bundle(self, context: Mapping[str, Any]) -> Agent:
        """The bundle serving a request with this Unleash ``context`` (``userId``, ...)."""
        if self._sdk is None:
            raise ReleaseError("the release client is not started: call start() first")
        variant = self._sdk.get_variant(self.flag, context=dict(context))
        name = variant.get("name", "disabled")
        if not variant.get("enabled") or name == "disabled":
            raise ReleaseError(f"flag {self.flag!r} gives no variant (off, missing or not fetched)")
        digest, revision = _payload(self.flag, name, variant.get("payload"))
        components = self.staged(digest)
        return Agent(digest, revision, components, name)

    def cache_info(self) -> Any:
        """Hits, misses and size of the staged-copy cache (``functools.lru_cache``'s)."""
        return self.staged.cache_info()

    def _fetch(self, digest: str) -> Mapping[str, Any]:
        url = self.staged_url.replace("{digest_hex}", digest.removeprefix("sha256:"))
        try:
            with urllib.request.urlopen(url, timeout=self.timeout) as answer:
                raw = answer.read(MAX_DOCUMENT + 1)
        except (urllib.error.URLError, OSError) as exc:
            raise ReleaseError(f"staged copy of {digest} could not be loaded: {exc}") from None
        if len(raw) > MAX_DOCUMENT:
            raise ReleaseError(f"staged copy of {digest} is larger than {MAX_DOCUMENT} bytes")
        try:
            document = json.loads(raw)
            components: Mapping[str, Any] = document["components"]
            found = bundle_digest(component_digests(components))
        except (ValueError, TypeError, KeyError, AttributeError):
            raise ReleaseError(f"staged copy of {digest} is not a rendered bundle") from None
        if found != digest:
            raise ReleaseError(f"staged copy of {digest} has digest {found}: not loaded")
        return components


def _payload(flag: str, variant: str, payload: Any) -> tuple[str, str | None]:
    """The digest and revision a variant's JSON payload names."""
    try:
        value = json.loads(payload["value"])
        digest, revision = value["digest"], value.get("revision")
    except (ValueError, TypeError, KeyError, AttributeError):
        raise ReleaseError(
            f"flag {flag!r} variant {variant!r} has no JSON payload with a digest"
        ) from None
    if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
        raise ReleaseError(f"flag {flag!r} variant {variant!r} names no sha256 digest")
    return digest, revision if isinstance(revision, str) else None
