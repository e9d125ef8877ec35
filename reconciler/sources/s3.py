"""The ``s3`` source: one S3 object per bundle holds its rendered bundle (design §5).

boto3's client blocks, so :class:`S3Source` is a :class:`~.interface.SyncSource` wrapped by
:func:`~.interface.threaded`. Credentials come from boto3's default chain of the process
(``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, ``AWS_PROFILE`` and the shared files, SSO,
container and instance roles); ``${VAR}`` references in ``bucket``, ``key``, ``region`` and
``endpoint_url`` are filled from the run's environment. Writes are conditional, so two writers
never silently overwrite each other; error reasons quote codes, never AWS messages or keys.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Collection
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import boto3
from botocore import exceptions as boto
from botocore.config import Config

from ..errors import ConfigError
from ..model.inventory import S3SourceSpec, TargetSpec
from ..variables import expand
from .interface import (
    Health,
    InvalidResponse,
    NotFound,
    PermanentError,
    SourceError,
    TransientError,
    Unauthorized,
    threaded,
)
from .staging import STAGED_SUFFIX, staged_name

if TYPE_CHECKING:
    from .context import SourceContext
    from .interface import Source

#: Seconds to connect, and to wait for each read of an answer.
TIMEOUT = 5.0
#: Attempts per request (botocore's "standard" retry mode: 5xx, throttling, dropped connections).
MAX_ATTEMPTS = 3
#: Connections per client: the default executor runs at most 32 threads.
POOL_SIZE = 32

#: S3 error codes that mean the credentials were refused (or the request was signed wrongly).
UNAUTHORIZED_CODES = frozenset(
    {
        "AccessDenied",
        "AllAccessDisabled",
        "ExpiredToken",
        "InvalidAccessKeyId",
        "InvalidToken",
        "SignatureDoesNotMatch",
        "TokenRefreshRequired",
    }
)
#: Error codes that say S3 is busy or failed for now, whatever the HTTP status.
TRANSIENT_CODES = frozenset(
    {"InternalError", "RequestTimeout", "ServiceUnavailable", "SlowDown", "Throttling"}
)
#: Error codes of a conditional write that lost: someone else wrote (or deleted) first.
CONFLICT_CODES = frozenset({"PreconditionFailed", "ConditionalRequestConflict"})
#: Error codes of a request sent to the wrong region for its bucket.
WRONG_REGION_CODES = frozenset({"AuthorizationHeaderMalformed", "PermanentRedirect"})
LOST_WRITE = "conditional write lost: another writer changed the object"

_BUCKET = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,254}$")
_CODE = re.compile(r"^[A-Za-z0-9.]{1,64}$")
_STAMP = re.compile(r"^[\x21-\x7e]{1,256}$")  # S3 user metadata is sent as ASCII headers

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
            raise _core_error(exc) from None
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
            raise _core_error(exc) from None
        self._etags[bundle] = response.get("ETag")

    def _current_etag(self, key: str) -> str | None:
        """The object's ETag now, or None when it does not exist (a HEAD has no error code)."""
        try:
            etag: str | None = self._client.head_object(Bucket=self._bucket, Key=key).get("ETag")
            return etag
        except boto.ClientError as exc:
            if _status(exc) == 404:
                return None  # no such key, or no such bucket: the PUT says which
            raise

    def health(self) -> Health:
        return Health(ok=True)

    def close(self) -> None:
        return None  # clients are shared by every S3 target (see client_for)

    def _error(self, exc: boto.ClientError, bundle: str, *, writing: bool = False) -> SourceError:
        """The SourceError for an answer from S3 (design §5: an absent key is ``missing``)."""
        code = str(exc.response.get("Error", {}).get("Code") or "")
        status = _status(exc)
        if code == "NoSuchBucket":
            return PermanentError(f"bucket {self._shown_bucket} does not exist")
        if code in CONFLICT_CODES or status == 412 or (writing and code == "NoSuchKey"):
            # If-Match on a key deleted since it was read answers 404 NoSuchKey.
            return TransientError(LOST_WRITE)
        if code in ("NoSuchKey", "NotFound") or status == 404:
            shown = self._shown_key.replace("{bundle}", bundle)
            return NotFound(f"object {shown} does not exist in bucket {self._shown_bucket}")
        shown_code = code if _CODE.match(code) and not code.isdigit() else ""
        what = f"{shown_code}, HTTP {status}" if shown_code else f"HTTP {status}"
        if code in UNAUTHORIZED_CODES or status in (401, 403):
            return Unauthorized(f"unauthorized ({what})")
        if code in TRANSIENT_CODES or status >= 500 or status in (408, 429):
            return TransientError(f"S3 error ({what})")
        if code in WRONG_REGION_CODES:
            return PermanentError(f"bucket {self._shown_bucket} is in another region ({what})")
        return PermanentError(f"S3 error ({what})")


class S3Stager:
    """The staged objects of one S3 target (a :class:`~.staging.SyncStager`)."""

    stages = True
    uploads = False

    def __init__(self, source: S3Source) -> None:
        self.source = source

    def _key(self, bundle: str, hex_: str | None = None) -> str:
        key = self.source.key_of(bundle)
        return key if hex_ is None else staged_name(key, hex_)

    def _call(self, bundle: str, method: str, **kwargs: object) -> dict[str, object]:
        source = self.source
        try:
            answer: dict[str, object] = getattr(source.client, method)(
                Bucket=source.bucket, **kwargs
            )
        except boto.ClientError as exc:
            raise source.error(exc, bundle) from None
        except boto.BotoCoreError as exc:
            raise _core_error(exc) from None
        return answer

    def stage(self, bundle: str, hex_: str, document: bytes) -> None:
        self._call(
            bundle,
            "put_object",
            Key=self._key(bundle, hex_),
            Body=document,
            ContentType="application/json",
            Metadata=stamps(document),
        )

    def read_staged(self, bundle: str, hex_: str, document: bytes) -> bytes:
        try:
            answer = self._call(bundle, "get_object", Key=self._key(bundle, hex_))
        except NotFound:
            raise NotFound(f"staged copy {hex_[:12]} is gone") from None
        body = answer["Body"]
        try:
            data: bytes = body.read(self.source.max_body + 1)  # type: ignore[attr-defined]
        finally:
            body.close()  # type: ignore[attr-defined]
        if len(data) > self.source.max_body:
            raise InvalidResponse(f"object larger than {self.source.max_body} bytes")
        return data

    def switch(self, bundle: str, hex_: str, document: bytes) -> None:
        source = self.source
        try:
            self._call(
                bundle,
                "copy_object",
                Key=self._key(bundle),
                CopySource={"Bucket": source.bucket, "Key": self._key(bundle, hex_)},
                MetadataDirective="COPY",
                ContentType="application/json",
            )
        except NotFound:
            raise NotFound(f"staged copy {hex_[:12]} is gone") from None
        finally:
            source.forget(bundle)  # the next conditional write reads the ETag again

    def staged(self, bundle: str) -> list[str] | None:
        prefix = self._key(bundle) + STAGED_SUFFIX
        answer = self._call(bundle, "list_objects_v2", Prefix=prefix, MaxKeys=1000)
        keys = [str(o["Key"]) for o in answer.get("Contents") or []]  # type: ignore[attr-defined]
        return sorted(k.removeprefix(prefix).removesuffix(".json") for k in keys)

    def drop(self, bundle: str, hexes: Collection[str]) -> None:
        for hex_ in hexes:
            self._call(bundle, "delete_object", Key=self._key(bundle, hex_))


def stamps(document: bytes) -> dict[str, str]:
    """Provenance for the object's metadata: the document's ``digest`` and ``revision``.

    Read back by people and tools, never by classification. A document that is not a JSON
    object, or a value that cannot travel as an ASCII header, gets no stamp.
    """
    try:
        parsed = json.loads(document)
    except ValueError:
        return {}
    if not isinstance(parsed, dict):
        return {}
    found = {name: parsed.get(name) for name in ("digest", "revision")}
    return {name: v for name, v in found.items() if isinstance(v, str) and _STAMP.match(v)}


def _status(exc: boto.ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)


def _core_error(exc: boto.BotoCoreError) -> SourceError:
    """A one-line error for a failure below the S3 API; botocore's own text may quote the URL."""
    if isinstance(exc, boto.ConnectTimeoutError):
        return TransientError(f"connecting timed out after {TIMEOUT:g}s")
    if isinstance(exc, boto.ReadTimeoutError):
        return TransientError(f"timed out after {TIMEOUT:g}s")
    if isinstance(exc, boto.EndpointConnectionError):  # refused, unreachable, DNS
        return TransientError("could not connect to the S3 endpoint")
    if isinstance(exc, boto.ConnectionClosedError):
        return TransientError("server closed the connection")
    if isinstance(exc, boto.SSLError):
        return PermanentError("TLS verification failed for the S3 endpoint")
    if isinstance(exc, boto.ConnectionError):
        return TransientError("connection to the S3 endpoint failed")
    if isinstance(exc, boto.NoCredentialsError):
        return Unauthorized("unauthorized: no AWS credentials found")
    if isinstance(exc, boto.PartialCredentialsError | boto.CredentialRetrievalError):
        return Unauthorized("unauthorized: AWS credentials are incomplete or could not be loaded")
    if isinstance(exc, boto.NoRegionError):
        return PermanentError("no AWS region: set region or AWS_DEFAULT_REGION")
    if isinstance(exc, boto.ParamValidationError):
        return PermanentError("invalid S3 request (bucket or key name)")
    if isinstance(exc, boto.IncompleteReadError | boto.ResponseStreamingError):
        return TransientError("response body ended early")
    if isinstance(exc, boto.ResponseParserError):
        return InvalidResponse("malformed S3 response")
    return TransientError(f"S3 request failed ({type(exc).__name__})")


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
