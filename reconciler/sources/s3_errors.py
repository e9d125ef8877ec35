"""What S3 answered, in the ``SourceError`` family (design §5): its error codes and HTTP statuses,
and the failures below the API (timeouts, refused connections, missing credentials).

Reasons quote an S3 error code and a status, never AWS's message, a URL or a key's value.
"""

from __future__ import annotations

import re

from botocore import exceptions as boto

from .interface import (
    InvalidResponse,
    NotFound,
    PermanentError,
    SourceError,
    TransientError,
    Unauthorized,
)

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

_CODE = re.compile(r"^[A-Za-z0-9.]{1,64}$")


def client_error(
    exc: boto.ClientError, bucket: str, key: str, *, writing: bool = False
) -> SourceError:
    """The SourceError for an answer from S3 (design §5: an absent key is ``missing``).

    ``bucket`` and ``key`` are as messages may quote them (templates where a ``${VAR}`` was).
    """
    code = str(exc.response.get("Error", {}).get("Code") or "")
    status = status_of(exc)
    if code == "NoSuchBucket":
        return PermanentError(f"bucket {bucket} does not exist")
    if code in CONFLICT_CODES or status == 412 or (writing and code == "NoSuchKey"):
        # If-Match on a key deleted since it was read answers 404 NoSuchKey.
        return TransientError(LOST_WRITE)
    if code in ("NoSuchKey", "NotFound") or status == 404:
        return NotFound(f"object {key} does not exist in bucket {bucket}")
    shown_code = code if _CODE.match(code) and not code.isdigit() else ""
    what = f"{shown_code}, HTTP {status}" if shown_code else f"HTTP {status}"
    if code in UNAUTHORIZED_CODES or status in (401, 403):
        return Unauthorized(f"unauthorized ({what})")
    if code in TRANSIENT_CODES or status >= 500 or status in (408, 429):
        return TransientError(f"S3 error ({what})")
    if code in WRONG_REGION_CODES:
        return PermanentError(f"bucket {bucket} is in another region ({what})")
    return PermanentError(f"S3 error ({what})")


def status_of(exc: boto.ClientError) -> int:
    """The HTTP status of S3's answer (0 when there was none)."""
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)


def core_error(exc: boto.BotoCoreError, timeout: float) -> SourceError:
    """A one-line error for a failure below the S3 API; botocore's own text may quote the URL."""
    if isinstance(exc, boto.ConnectTimeoutError):
        return TransientError(f"connecting timed out after {timeout:g}s")
    if isinstance(exc, boto.ReadTimeoutError):
        return TransientError(f"timed out after {timeout:g}s")
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
