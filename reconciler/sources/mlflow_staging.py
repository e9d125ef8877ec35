"""Stage and switch for the ``mlflow`` source (design §12): staging registers a prompt version per
prompt, tagged with the bundle digest, and leaves the alias where it is; the switch moves the
alias. Versions are the registry's own history: nothing is ever deleted."""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from .interface import NotFound, observed
from .mlflow_prompts import field_object, version_text

if TYPE_CHECKING:
    from ..diff.document import Document
    from .mlflow import MlflowSource


class MlflowStager:
    """The staged prompt versions of one prompt registry."""

    stages = True
    uploads = False

    def __init__(self, source: MlflowSource) -> None:
        self.source = source
        #: (MLflow name, text) -> the version staged with it, as this stager last saw it: the
        #: switch is then one request per prompt (a short torn window). A stale entry (someone
        #: deleted the version) fails the switch with the registry's own error.
        self._versions: dict[tuple[str, str], str] = {}

    async def stage(self, bundle: str, hex_: str, document: bytes) -> None:
        writes = self.source.writes(bundle, document)
        existing = set((await self.source.find_prompts(bundle)).values())
        for key, name, text, tags in writes:
            version = await self.source.stage_prompt(key, name, text, tags, name in existing)
            self._versions[(name, text)] = version

    async def read_staged(self, bundle: str, hex_: str, document: bytes) -> Document:
        components: dict[str, Any] = {}
        for key, name, text, _ in self.source.writes(bundle, document):
            version = await self.source.version_with(name, text)
            if version is None:
                raise NotFound(f"{key}: no staged version holds its text")
            self._versions[(name, text)] = version
            answer = await self.source.call_get(
                "model-versions/get", {"name": name, "version": version}
            )
            components[key] = {"text": version_text(name, field_object(answer, "model_version"))}
        return observed(bundle, components, what="a prompt text")

    async def switch(self, bundle: str, hex_: str, document: bytes) -> None:
        for key, name, text, _ in self.source.writes(bundle, document):
            version = self._versions.get((name, text))
            if version is None:
                if await self.source.serves(name, text):
                    continue  # idempotent: the alias is there already
                version = await self.source.version_with(name, text)
                if version is None:
                    raise NotFound(f"{key}: staged copy {hex_[:12]} is gone")
            await self.source.set_alias(key, name, version)  # setting it again changes nothing

    async def staged(self, bundle: str) -> list[str] | None:
        return None  # the state store remembers what was staged

    async def drop(self, bundle: str, hexes: Collection[str]) -> None:
        return None  # prompt versions are the registry's history
