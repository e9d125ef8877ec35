"""The ``s3`` source: one S3 object per bundle holds its rendered bundle (design §5).

boto3's client blocks, so :class:`S3Source` is a :class:`~.interface.SyncSource` wrapped by
:func:`~.interface.threaded`. Credentials come from boto3's default chain of the process
(``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, ``AWS_PROFILE`` and the shared files, SSO,
container and instance roles); ``${VAR}`` references in ``bucket``, ``key``, ``region`` and
``endpoint_url`` are filled from the run's environment. Writes are conditional, so two writers
never silently overwrite each other; error reasons quote codes, never AWS messages or keys
(:mod:`.s3_errors`). Staged delivery's objects are :mod:`.s3_staging`'s.
"""

from __future__ import annotations

import re
import threading
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import boto3
from botocore import exceptions as boto
from botocore.config import Config

from ..errors import ConfigError
from ..model.inventory import S3SourceSpec, TargetSpec
from .env import expand
from .interface import (
    Health,
    InvalidResponse,
    NotFound,
    SourceError,
    threaded,
)
from .s3_errors import client_error, core_error, status_of
from .s3_staging import S3Stager, stamps

if TYPE_CHECKING:
    from .context import SourceContext
    from .interface import Source

#: Seconds to connect, and to wait for each read of an answer.
TIMEOUT = 5.0
#: Attempts per request (botocore's "standard" retry mode: 5xx, throttling, dropped connections).
MAX_ATTEMPTS = 3
#: Connections per client: the default executor runs at most 32 threads.
POOL_SIZE = 32

_BUCKET = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,254}$")

# Creating a client costs ~100 ms (endpoint rules, service model): one per configuration,
# shared by every target and thread (botocore clients are thread-safe; their creation is not).
_CLIENTS: dict[tuple[str | None, str | None, float, int], Any] = {}
_CLIENTS_LOCK = threading.Lock()


def client_for(
    endpoint_url: str | None,
    region: str | None,
    *,
    timeout: float = TIMEOUT,
    attempts: int = MAX_ATTEMPTS,
) -> Any:
    """The shared boto3 S3 client for one endpoint and region (created on first use)."""
    key = (endpoint_url, region, timeout, attempts)
    with _CLIENTS_LOCK:
        client = _CLIENTS.get(key)
        if client is None:
            options: dict[str, Any] = {}
            if endpoint_url is not None:
                # S3-compatible servers: path-style URLs (no wildcard DNS needed), and checksums
                # only where the API requires them (botocore >= 1.36 adds CRC32 headers by default,
                # which older servers reject).
                options = {
                    "s3": {"addressing_style": "path"},
                    "request_checksum_calculation": "when_required",
                    "response_checksum_validation": "when_required",
                }
            config = Config(
                connect_timeout=timeout,
                read_timeout=timeout,
                retries={"mode": "standard", "total_max_attempts": attempts},
                max_pool_connections=POOL_SIZE,
                user_agent_extra="agent-reconciler",
                **options,
            )
            session = boto3.session.Session(region_name=region)
            client = session.client("s3", endpoint_url=endpoint_url, config=config)
            _CLIENTS[key] = client
        return client


def clear_clients() -> None:
    """Forget the shared clients, e.g. after the process's AWS credentials changed."""
    with _CLIENTS_LOCK:
        _CLIENTS.clear()


class S3Source:
    """Reads and conditionally writes ``s3://<bucket>/<key>``, with ``{bundle}`` in the key.

    ``apply`` writes with ``If-Match`` the ETag this source last read for the bundle
    (``If-None-Match: *`` when it read nothing there); without an earlier read it reads the
    current ETag first. A lost race is a :class:`TransientError`: the reconciler re-reads first.
    """

    def __init__(
        self,
        bucket: str,
        key: str,
        *,
        region: str | None,
        endpoint_url: str | None,
        max_body: int,
        shown: tuple[str, str] | None = None,
    ) -> None:
        self._bucket = bucket
        self._key = key
        self._region = region
        self._endpoint_url = endpoint_url
        self._max_body = max_body
        # What messages may quote: the templates where a value came from a ${VAR}.
        self._shown_bucket, self._shown_key = shown or (bucket, key)
        #: bundle -> the ETag of the object last read or written, None when it was absent.
        self._etags: dict[str, str | None] = {}

    def __repr__(self) -> str:
        return f"S3Source({self._shown_bucket!r}, {self._shown_key!r})"

    @property
    def _client(self) -> Any:
        return client_for(self._endpoint_url, self._region, timeout=TIMEOUT, attempts=MAX_ATTEMPTS)

    # -- for staging (design §12, :mod:`.s3_staging`) ------------------------------------------

    @property
    def client(self) -> Any:
        return self._client

    @property
    def bucket(self) -> str:
        return self._bucket

    @property
    def max_body(self) -> int:
        return self._max_body

    def key_of(self, bundle: str) -> str:
        return self._key.replace("{bundle}", bundle)

    def error(self, exc: boto.ClientError, bundle: str) -> SourceError:
        return self._error(exc, bundle)

    @property
    def timeout(self) -> float:
        return TIMEOUT

    def forget(self, bundle: str) -> None:
        """Forget the ETag last seen for ``bundle`` (the object changed by a copy)."""
        self._etags.pop(bundle, None)

    def staging(self) -> S3Stager:
        """PutObject of a staged object, then a server-side CopyObject (design §12)."""
        return S3Stager(self)

    # -- the serving object ----------------------------------------------------------------------

    def fetch(self, bundle: str) -> bytes:
        key = self._key.replace("{bundle}", bundle)
        try:
            response = self._client.get_object(Bucket=self._bucket, Key=key)
            body = response["Body"]
            try:
                if int(response.get("ContentLength") or 0) > self._max_body:
                    raise InvalidResponse(f"object larger than {self._max_body} bytes")
                data = body.read(self._max_body + 1)
            finally:
                body.close()
        except boto.ClientError as exc:
            error = self._error(exc, bundle)
            if isinstance(error, NotFound):
                self._etags[bundle] = None
            raise error from None
        except boto.BotoCoreError as exc:
            raise core_error(exc, TIMEOUT) from None
        if len(data) > self._max_body:
            raise InvalidResponse(f"object larger than {self._max_body} bytes")
        self._etags[bundle] = response.get("ETag")
        return bytes(data)

    def apply(self, bundle: str, document: bytes) -> None:
        key = self._key.replace("{bundle}", bundle)
        try:
            etag = self._etags[bundle] if bundle in self._etags else self._current_etag(key)
            condition = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
            response = self._client.put_object(
                Bucket=self._bucket,
                Key=key,
                Body=document,
                ContentType="application/json",
                Metadata=stamps(document),
                **condition,
            )
        except boto.ClientError as exc:
            # Lost or failed: read again before the next write. (A PUT retried after a lost
            # answer can lose to its own first attempt; the re-read then finds our document.)
            self._etags.pop(bundle, None)
            raise self._error(exc, bundle, writing=True) from None
        except boto.BotoCoreError as exc:
            self._etags.pop(bundle, None)
            raise core_error(exc, TIMEOUT) from None
        self._etags[bundle] = response.get("ETag")

    def _current_etag(self, key: str) -> str | None:
        """The object's ETag now, or None when it does not exist (a HEAD has no error code)."""
        try:
            return self._client.head_object(Bucket=self._bucket, Key=key).get("ETag")
        except boto.ClientError as exc:
            if status_of(exc) == 404:
                return None  # no such key, or no such bucket: the PUT says which
            raise

    def health(self) -> Health:
        return Health(ok=True)

    def close(self) -> None:
        return None  # clients are shared by every S3 target (see client_for)

    def _error(self, exc: boto.ClientError, bundle: str, *, writing: bool = False) -> SourceError:
        key = self._shown_key.replace("{bundle}", bundle)
        return client_error(exc, self._shown_bucket, key, writing=writing)


def open_s3(spec: S3SourceSpec, target: TargetSpec, ctx: SourceContext) -> Source:
    """The source for an ``s3`` target; settings are checked here, before any I/O."""
    where = f"target {target.name}"
    bucket = expand(spec.bucket, ctx.env, where)
    key = expand(spec.key, ctx.env, where)
    region = expand(spec.region, ctx.env, where) if spec.region else None
    endpoint_url = expand(spec.endpoint_url, ctx.env, where) if spec.endpoint_url else None
    if not _BUCKET.match(bucket):
        raise ConfigError(f"{where}: {spec.bucket!r} is not a valid S3 bucket name")
    if not key:
        raise ConfigError(f"{where}: the S3 key is empty")
    if endpoint_url is not None:
        try:
            parsed = urlsplit(endpoint_url)
            valid = (
                parsed.scheme in ("http", "https") and bool(parsed.hostname) and parsed.port != 0
            )
        except ValueError:  # a port that is not a number
            valid = False
        if not valid:
            raise ConfigError(f"{where}: endpoint_url {spec.endpoint_url!r} is not an http(s) URL")
    shown = (
        spec.bucket if "${" in spec.bucket else bucket,
        spec.key if "${" in spec.key else key,
    )
    source = S3Source(
        bucket,
        key,
        region=region or None,
        endpoint_url=endpoint_url,
        max_body=ctx.max_body,
        shown=shown,
    )
    return threaded(source, ctx.executor)
