"""Before a devices target's manifests are staged (design §13), each tier's artifact is checked
to exist with its stated sha256: from a ``<url>.sha256`` sidecar (the hex digest, optionally
followed by a file name as ``sha256sum`` prints it), else by reading the artifact in full, bounded.
http(s) and file URLs."""

from __future__ import annotations

import asyncio
import hashlib
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from ..errors import ReconcilerError

#: Largest artifact read in full when it has no sidecar (bytes).
MAX_ARTIFACT = 16 * 1024**3
#: Seconds one artifact check may take.
TIMEOUT = 300.0
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Checked:
    """One tier's artifact: what its variant states, and what was found (None: missing)."""

    tier: str
    url: str
    stated: str
    actual: str | None

    @property
    def ok(self) -> bool:
        return self.actual == self.stated

    def __str__(self) -> str:
        return (
            f"tier {self.tier}: {self.url}: stated sha256 {self.stated}, "
            f"actual {self.actual or 'missing'}"
        )


class ArtifactMismatch(ReconcilerError):
    """A tier's artifact is missing or differs from its stated sha256: no manifest switched."""

    def __init__(self, target: str, bad: list[Checked]) -> None:
        self.bad = bad
        shown = "; ".join(str(b) for b in bad)
        super().__init__(f"target {target}: artifact check failed, no manifest switched: {shown}")


async def check_all(variants: dict[str, dict[str, object]]) -> list[Checked]:
    """Each tier's artifact, checked concurrently."""
    jobs = [
        asyncio.to_thread(check, tier, str(v.get("url")), str(v.get("sha256")))
        for tier, v in sorted(variants.items())
    ]
    return list(await asyncio.gather(*jobs))


def check(tier: str, url: str, stated: str) -> Checked:
    """One artifact's actual sha256 (sidecar first, then a bounded full read)."""
    return Checked(tier, url, stated, actual_sha256(url))


def actual_sha256(url: str) -> str | None:
    """The artifact's sha256 as its sidecar states it, else as read; None when it is missing."""
    sidecar = _read_small(url + ".sha256")
    if sidecar is not None:
        words = sidecar.decode("utf-8", "replace").split()
        if words and len(words[0]) == 64:
            return words[0].lower()
    return _hash(url)


def _local(url: str) -> Path | None:
    parsed = urlparse(url)
    return Path(unquote(parsed.path)) if parsed.scheme == "file" else None


def _read_small(url: str) -> bytes | None:
    path = _local(url)
    try:
        if path is not None:
            return path.read_bytes()[:4096] if path.is_file() else None
        with urllib.request.urlopen(url, timeout=TIMEOUT) as answer:
            data: bytes = answer.read(4096)
            return data
    except (urllib.error.URLError, OSError, ValueError):
        return None


def _hash(url: str) -> str | None:
    digest = hashlib.sha256()
    seen = 0
    path = _local(url)
    try:
        if path is not None:
            if not path.is_file():
                return None
            stream = path.open("rb")
        else:
            stream = urllib.request.urlopen(url, timeout=TIMEOUT)
        with stream:
            while chunk := stream.read(_CHUNK):
                seen += len(chunk)
                if seen > MAX_ARTIFACT:
                    return None
                digest.update(chunk)
    except (urllib.error.URLError, OSError, ValueError):
        return None
    return digest.hexdigest()
