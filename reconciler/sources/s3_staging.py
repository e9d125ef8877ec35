"""Stage and switch for the ``s3`` source (design §12): PutObject ``{key}.staged/<hex>.json``,
then a server-side CopyObject of it onto ``{key}`` (no content crosses the wire twice)."""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING

from botocore import exceptions as boto

from .interface import InvalidResponse, NotFound
from .s3 import _core_error, stamps
from .staging import STAGED_SUFFIX, staged_name

if TYPE_CHECKING:
    from .s3 import S3Source


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
