"""The ``mlflow`` source: each ``prompt/<name>`` is an MLflow prompt version behind an alias.

It speaks MLflow's REST API over the shared HTTP client (the ``mlflow`` package is never
imported). Versions can be rewritten over REST (``model-versions/set-tag``), so both fetch and
apply compare prompt texts, never version numbers.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Collection, Mapping
from typing import TYPE_CHECKING, Any

from ..canonical import bundle_digest
from ..errors import ConfigError
from ..model.inventory import MlflowSourceSpec, TargetSpec
from .env import expand_headers
from .interface import Health, InvalidResponse, NotFound, PermanentError, observed, to_apply
from .mlflow_prompts import (
    BUNDLE_DIGEST_TAG,
    DIGEST_TAG,
    IS_PROMPT,
    PROMPT_TYPE,
    PROMPTS_ONLY,
    REVISION_TAG,
    TEXT,
    PromptNames,
    check_bundle,
    error_code,
    field_object,
    json_object,
    prompt_text,
    tag_list,
    tags_of,
    version_number,
    version_text,
)
from .naming import NameTemplate
from .rest import HttpClient, Transport, resolve_url

if TYPE_CHECKING:
    from ..diff.document import Document
    from .context import SourceContext

#: Seconds one REST call may take (connecting included); GETs get :data:`~.rest.ATTEMPTS` attempts.
DEFAULT_TIMEOUT = 10.0
API = "/api/2.0/mlflow/"

#: Statuses MLflow answers with its own JSON error (``error_code``); the backend explains them.
API_ERRORS = frozenset({400, 404, 409})

_PAGE = 100  # a search page carries each prompt's latest text: keep pages well under max_body
_MAX_PAGES = 10_000
_ALIAS = re.compile(r"[A-Za-z0-9_-]+")


class ApiError(PermanentError):
    """MLflow refused a request with its own JSON error (``error_code``), e.g. a 400 or 404."""

    def __init__(self, status: int, code: str, context: str = "") -> None:
        self.status = status
        self.code = code
        prefix = f"{context}: " if context else ""
        super().__init__(f"{prefix}HTTP {status} {code}")


class MlflowSource:
    """One prompt registry: ``base`` is the server's URL, ``headers`` already expanded."""

    def __init__(
        self,
        client: HttpClient,
        base: str,
        *,
        target: TargetSpec,
        alias: str,
        names: NameTemplate,
        headers: Mapping[str, str],
        timeout: float = DEFAULT_TIMEOUT,
        max_body: int,
    ) -> None:
        self._transport = Transport(client, headers=headers, timeout=timeout, max_body=max_body)
        self._api = base.rstrip("/") + API
        self._target = target
        self._alias = alias
        self._names = names

    def __repr__(self) -> str:
        return f"MlflowSource(alias={self._alias!r}, prompt_name={self._names.template!r})"

    # -- reading -----------------------------------------------------------------------------

    async def fetch(self, bundle: str) -> Document:
        check_bundle(bundle)
        found = await self.find_prompts(bundle)
        versions = await asyncio.gather(
            *(self._aliased(name) for name in found.values()), return_exceptions=True
        )
        components: dict[str, Any] = {}
        revisions: set[str | None] = set()
        for (prompt, name), version in zip(found.items(), versions, strict=True):
            if isinstance(version, BaseException):
                raise version
            if version is None:
                continue  # no such alias: this prompt is absent from the target
            components[f"prompt/{prompt}"] = {"text": version_text(name, version)}
            revisions.add(tags_of(version).get(REVISION_TAG))
        if not components:
            raise NotFound(
                f"no MLflow prompt named like {self._names.like(bundle)!r} "
                f"has alias {self._alias!r}"
            )
        revision = revisions.pop() if len(revisions) == 1 else None
        return observed(bundle, components, revision=revision, what="a prompt text")

    async def find_prompts(self, bundle: str) -> dict[str, str]:
        """``{prompt: MLflow name}``: the prompts named after ``bundle`` that the target carries."""
        matcher = self._names.matcher(bundle)
        query = {"filter": f"{PROMPTS_ONLY} AND name LIKE '{self._names.like(bundle)}'"}
        found: dict[str, str] = {}
        async for model in self._search("registered-models/search", "registered_models", query):
            name = model.get("name")
            match = matcher.fullmatch(name) if isinstance(name, str) else None
            if match and self._target.carries_component(f"prompt/{match['prompt']}"):
                found[match["prompt"]] = match.string  # the MLflow name
        return found

    async def _aliased(self, name: str) -> dict[str, Any] | None:
        """The version ``name``'s alias points to; None when the prompt or the alias is absent."""
        try:
            answer = await self._get(
                "registered-models/alias", {"name": name, "alias": self._alias}
            )
        except ApiError as exc:
            # A missing alias answers 400 INVALID_PARAMETER_VALUE, a missing prompt 404.
            if exc.code in ("INVALID_PARAMETER_VALUE", "RESOURCE_DOES_NOT_EXIST"):
                return None
            raise
        return field_object(answer, "model_version")

    async def _search(
        self, path: str, field: str, query: dict[str, str]
    ) -> AsyncIterator[dict[str, Any]]:
        """Every result of a paged search, page by page."""
        token = ""
        for _ in range(_MAX_PAGES):
            page = {**query, "max_results": str(_PAGE)}
            if token:
                page["page_token"] = token
            answer = await self._get(path, page)
            results = answer.get(field, [])
            if not isinstance(results, list) or not all(isinstance(r, dict) for r in results):
                raise InvalidResponse(f"MLflow {path}: {field!r} is not a list of objects")
            for result in results:
                yield result
            token = answer.get("next_page_token") or ""
            if not isinstance(token, str) or not token:
                return
        raise InvalidResponse(f"MLflow {path}: more than {_MAX_PAGES} pages")

    # -- writing -----------------------------------------------------------------------------

    async def apply(self, bundle: str, document: bytes) -> None:
        writes = self.writes(bundle, document)  # every prompt is checked before the first write
        existing = set((await self.find_prompts(bundle)).values())
        for key, name, text, tags in writes:
            if name in existing and await self.serves(name, text):
                continue  # already there: write nothing
            version = await self.stage_prompt(key, name, text, tags, name in existing)
            await self.set_alias(key, name, version)

    def writes(self, bundle: str, document: bytes) -> list[tuple[str, str, str, dict[str, str]]]:
        """``(key, MLflow name, text, tags)`` of every carried prompt of ``document``."""
        check_bundle(bundle)
        doc = to_apply(bundle, document)
        stamp = {BUNDLE_DIGEST_TAG: bundle_digest(doc.digests)}
        if doc.stated_revision:
            stamp[REVISION_TAG] = doc.stated_revision
        return [
            (
                key,
                self._names.name(bundle, key.removeprefix("prompt/")),
                prompt_text(key, doc.components[key]),
                {**stamp, DIGEST_TAG: doc.digests[key]},
            )
            for key in sorted(doc.components)
            if key.startswith("prompt/") and self._target.carries_component(key)
        ]

    async def serves(self, name: str, text: str) -> bool:
        """Whether the alias of ``name`` points at a version with exactly ``text``."""
        current = await self._aliased(name)
        return current is not None and tags_of(current).get(TEXT) == text

    async def stage_prompt(
        self, key: str, name: str, text: str, tags: dict[str, str], exists: bool
    ) -> str:
        """The version of ``name`` holding ``text`` (registered now when none does); the alias
        does not move."""
        if not exists:
            await self._create_prompt(key, name)
        version = await self.version_with(name, text)
        if version is None:
            created = await self._post(
                "model-versions/create",
                {
                    "name": name,
                    "source": "prompt-template",
                    "description": "",
                    "tags": tag_list({IS_PROMPT: "true", TEXT: text, PROMPT_TYPE: "text", **tags}),
                },
                f"{key}: creating a version",
            )
            version = version_number(field_object(created, "model_version"))
        return version

    async def set_alias(self, key: str, name: str, version: str) -> None:
        await self._post(
            "registered-models/alias",
            {"name": name, "alias": self._alias, "version": version},
            f"{key}: setting alias {self._alias!r}",
        )

    def staging(self) -> MlflowStager:
        """A version registered per digest, then the alias (design §12)."""
        return MlflowStager(self)

    async def _create_prompt(self, key: str, name: str) -> None:
        """Create prompt ``name``; a registered model (not a prompt) of that name is an error."""
        try:
            await self._post(
                "registered-models/create",
                {"name": name, "tags": tag_list({IS_PROMPT: "true"})},
                f"{key}: creating prompt {name}",
            )
            return
        except ApiError as exc:
            if exc.code != "RESOURCE_ALREADY_EXISTS":
                raise
        # Search did not list it: a model of that name, or a prompt someone made meanwhile.
        answer = await self._get("registered-models/get", {"name": name})
        if tags_of(field_object(answer, "registered_model")).get(IS_PROMPT, "").lower() != "true":
            raise PermanentError(f"cannot apply {key}: {name} is a registered model, not a prompt")

    async def version_with(self, name: str, text: str) -> str | None:
        """The newest version of ``name`` whose text is exactly ``text`` (None when none is)."""
        query = {"filter": f"name = '{name}' AND {PROMPTS_ONLY}"}
        best: tuple[int, str] | None = None
        async for version in self._search("model-versions/search", "model_versions", query):
            if tags_of(version).get(TEXT) == text:
                number = version_number(version)
                if best is None or int(number) > best[0]:
                    best = (int(number), number)
        return None if best is None else best[1]

    # -- HTTP --------------------------------------------------------------------------------

    async def _get(self, path: str, params: Mapping[str, str]) -> dict[str, Any]:
        return await self._call("GET", path, params=params)

    call_get = _get

    async def _post(self, path: str, body: dict[str, Any], context: str) -> dict[str, Any]:
        return await self._call("POST", path, body=body, context=context)

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: dict[str, Any] | None = None,
        context: str = "",
    ) -> dict[str, Any]:
        """One REST call; the answer's JSON object, or an error from the SourceError family."""
        answer = await self._transport.request(
            method,
            self._api + path,
            params=params,
            json_body=body,
            what=context,
            answers=API_ERRORS,
        )
        if answer.status >= 300:
            raise ApiError(answer.status, error_code(answer.status, answer.body), context)
        return json_object(answer.body, path)

    async def health(self) -> Health:
        return Health(ok=True)

    async def close(self) -> None:
        return None  # the session belongs to the HttpClient, closed with the SourceContext


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


def open_mlflow(
    spec: MlflowSourceSpec,
    target: TargetSpec,
    ctx: SourceContext,
    *,
    timeout: float = DEFAULT_TIMEOUT,
) -> MlflowSource:
    """The source of an ``mlflow`` target; bad settings are a ConfigError naming the target."""
    where = f"target {target.name}"
    if not _ALIAS.fullmatch(spec.alias) or spec.alias.lower() == "latest":
        raise ConfigError(
            f"{where}: alias {spec.alias!r} must be letters, digits, '_' or '-', and not 'latest'"
        )
    if re.fullmatch(r"[vV]\d+", spec.alias):
        raise ConfigError(f"{where}: alias {spec.alias!r} is reserved by MLflow for versions")
    return MlflowSource(
        ctx.http,
        resolve_url(spec.url, ctx.env, where),
        target=target,
        alias=spec.alias,
        names=PromptNames(spec.prompt_name, where),
        headers=expand_headers(spec.headers, ctx.env, where),
        timeout=timeout,
        max_body=ctx.max_body,
    )
