"""Staged delivery on S3 (design §12): each digest is PutObject to a staged key beside the serving
object, and the switch is one server-side CopyObject onto it (atomic for readers).
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from typing import Any, Protocol

from botocore import exceptions as boto

from .interface import InvalidResponse, NotFound, SourceError
from .s3_errors import core_error
from .staging import STAGED_SUFFIX, staged_name

_STAMP = re.compile(r"^[\x21-\x7e]{1,256}$")  # S3 user metadata is sent as ASCII headers


class StagedObjects(Protocol):
    """What the stager needs of its :class:`~.s3.S3Source`."""

    @property
    def client(self) -> Any: ...

    @property
    def bucket(self) -> str: ...

    @property
    def max_body(self) -> int: ...

    @property
    def timeout(self) -> float: ...

    def key_of(self, bundle: str) -> str: ...

    def error(self, exc: boto.ClientError, bundle: str) -> SourceError: ...

    def forget(self, bundle: str) -> None: ...


class S3Stager:
    """The staged objects of one S3 target (a :class:`~.staging.SyncStager`)."""

    stages = True
    uploads = False

    def __init__(self, source: StagedObjects) -> None:
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
            raise core_error(exc, source.timeout) from None
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
