"""The ``mlflow`` source: each ``prompt/<name>`` is an MLflow prompt version behind an alias.

It speaks MLflow's REST API over the shared HTTP client (the ``mlflow`` package is never
imported). Versions can be rewritten over REST (``model-versions/set-tag``), so both fetch and
apply compare prompt texts, never version numbers.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any

import aiohttp

from ..canonical import bundle_digest
from ..errors import ConfigError
from ..model.inventory import MlflowSourceSpec, TargetSpec
from ..observation import InvalidDocument, parse
from ..render import RENDERED_SCHEMA
from .env import expand_headers
from .http import HttpClient, _drain, _read_body, exception_error, resolve_url, status_error
from .interface import Health, InvalidResponse, NotFound, PermanentError, SourceError
from .naming import NameTemplate

if TYPE_CHECKING:
    from .registry import SourceContext

#: Seconds one REST call may take (connecting included); GETs get aiohttp-retry's 3 attempts.
DEFAULT_TIMEOUT = 10.0
API = "/api/2.0/mlflow/"

#: MLflow's own tags of a prompt and of a prompt version.
IS_PROMPT = "mlflow.prompt.is_prompt"
TEXT = "mlflow.prompt.text"
PROMPT_TYPE = "_mlflow_prompt_type"
#: Provenance stamped on versions apply creates; read back for ``revision``, never to classify.
DIGEST_TAG = "agent-reconciler.digest"
BUNDLE_DIGEST_TAG = "agent-reconciler.bundle_digest"
REVISION_TAG = "agent-reconciler.revision"
#: The longest tag value (so prompt text) MLflow 3 keeps, in characters.
MAX_TEXT = 100_000

#: Search hides prompts unless the filter names their tag (backends.md).
_PROMPTS_ONLY = f"tags.`{IS_PROMPT}` = 'true'"
_PAGE = 100  # a search page carries each prompt's latest text: keep pages well under max_body
_MAX_PAGES = 10_000
_LITERAL = re.compile(r"[A-Za-z0-9._-]*")  # what MLflow allows in a prompt name, and {bundle}
_ALIAS = re.compile(r"[A-Za-z0-9_-]+")


def PromptNames(template: str, where: str) -> NameTemplate:
    """The ``prompt_name`` template: ``(bundle, prompt) -> MLflow name``, and back by regex."""
    return NameTemplate(
        template,
        key="prompt_name",
        item="prompt",
        literal=_LITERAL.pattern,
        allowed="'.', '_', '-'",
        where=where,
    )


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
        self._client = client
        self._api = base.rstrip("/") + API
        self._target = target
        self._alias = alias
        self._names = names
        self._headers = dict(headers)
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._seconds = timeout
        self._max_body = max_body

    def __repr__(self) -> str:
        return f"MlflowSource(alias={self._alias!r}, prompt_name={self._names.template!r})"

    # -- reading -----------------------------------------------------------------------------

    async def fetch(self, bundle: str) -> bytes:
        _check_bundle(bundle)
        found = await self._find_prompts(bundle)
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
            components[f"prompt/{prompt}"] = {"text": _text(name, version)}
            revisions.add(_tags(version).get(REVISION_TAG))
        if not components:
            raise NotFound(
                f"no MLflow prompt named like {self._names.like(bundle)!r} "
                f"has alias {self._alias!r}"
            )
        revision = revisions.pop() if len(revisions) == 1 else None
        document = {
            "schema": RENDERED_SCHEMA,
            "name": bundle,
            "revision": revision,
            "components": dict(sorted(components.items())),
        }
        try:
            return json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate, escaped in MLflow's JSON
            raise InvalidResponse("a prompt text is not valid Unicode") from None

    async def _find_prompts(self, bundle: str) -> dict[str, str]:
        """``{prompt: MLflow name}``: the prompts named after ``bundle`` that the target carries."""
        matcher = self._names.matcher(bundle)
        query = {"filter": f"{_PROMPTS_ONLY} AND name LIKE '{self._names.like(bundle)}'"}
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
        return _object(answer, "model_version")

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
        _check_bundle(bundle)
        try:
            doc = parse(document)
        except InvalidDocument as exc:
            raise PermanentError(f"cannot apply: {exc}") from None
        if doc.name != bundle:
            raise PermanentError(f"cannot apply: the document is bundle {doc.name!r}")
        stamp = {BUNDLE_DIGEST_TAG: bundle_digest(doc.digests)}
        if doc.stated_revision:
            stamp[REVISION_TAG] = doc.stated_revision
        writes = [
            (key, _prompt_text(key, doc.components[key]), {**stamp, DIGEST_TAG: doc.digests[key]})
            for key in sorted(doc.components)
            if key.startswith("prompt/") and self._target.carries_component(key)
        ]  # every prompt is checked before the first write
        existing = set((await self._find_prompts(bundle)).values())
        for key, text, tags in writes:
            name = self._names.name(bundle, key.removeprefix("prompt/"))
            await self._apply_prompt(key, name, text, tags, name in existing)

    async def _apply_prompt(
        self, key: str, name: str, text: str, tags: dict[str, str], exists: bool
    ) -> None:
        if exists:
            current = await self._aliased(name)
            if current is not None and _tags(current).get(TEXT) == text:
                return  # already there: write nothing
        else:
            await self._create_prompt(key, name)
        version = await self._version_with(name, text)
        if version is None:
            created = await self._post(
                "model-versions/create",
                {
                    "name": name,
                    "source": "prompt-template",
                    "description": "",
                    "tags": _tag_list({IS_PROMPT: "true", TEXT: text, PROMPT_TYPE: "text", **tags}),
                },
                f"{key}: creating a version",
            )
            version = _version_number(_object(created, "model_version"))
        await self._post(
            "registered-models/alias",
            {"name": name, "alias": self._alias, "version": version},
            f"{key}: setting alias {self._alias!r}",
        )

    async def _create_prompt(self, key: str, name: str) -> None:
        """Create prompt ``name``; a registered model (not a prompt) of that name is an error."""
        try:
            await self._post(
                "registered-models/create",
                {"name": name, "tags": _tag_list({IS_PROMPT: "true"})},
                f"{key}: creating prompt {name}",
            )
            return
        except ApiError as exc:
            if exc.code != "RESOURCE_ALREADY_EXISTS":
                raise
        # Search did not list it: a model of that name, or a prompt someone made meanwhile.
        answer = await self._get("registered-models/get", {"name": name})
        if _tags(_object(answer, "registered_model")).get(IS_PROMPT, "").lower() != "true":
            raise PermanentError(f"cannot apply {key}: {name} is a registered model, not a prompt")

    async def _version_with(self, name: str, text: str) -> str | None:
        """The newest version of ``name`` whose text is exactly ``text`` (None when none is)."""
        query = {"filter": f"name = '{name}' AND {_PROMPTS_ONLY}"}
        best: tuple[int, str] | None = None
        async for version in self._search("model-versions/search", "model_versions", query):
            if _tags(version).get(TEXT) == text:
                number = _version_number(version)
                if best is None or int(number) > best[0]:
                    best = (int(number), number)
        return None if best is None else best[1]

    # -- HTTP --------------------------------------------------------------------------------

    async def _get(self, path: str, params: Mapping[str, str]) -> dict[str, Any]:
        return await self._call("GET", path, params=params)

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
        # aiohttp-retry retries failed connections whatever the method: only GETs go through it.
        requester = self._client.retrying if method == "GET" else self._client.session
        try:
            async with requester.request(
                method,
                self._api + path,
                params=params,
                json=body,
                headers=self._headers or None,
                timeout=self._timeout,
                allow_redirects=False,
            ) as response:
                if response.status < 300:
                    return _json_object(await _read_body(response, self._max_body), path)
                if response.status in (400, 404, 409):
                    raise ApiError(response.status, await _error_code(response), context)
                await _drain(response)
                raise _with_context(status_error(response.status), context)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise _with_context(exception_error(exc, self._seconds), context) from None

    async def health(self) -> Health:
        return Health(ok=True)

    async def close(self) -> None:
        return None  # the session belongs to the HttpClient, closed with the SourceContext


def _check_bundle(bundle: str) -> None:
    """Bundle names are plain (model.names); this keeps a bad one out of a search filter."""
    if not bundle or not _LITERAL.fullmatch(bundle):
        raise PermanentError(f"bundle name {bundle!r} cannot be part of an MLflow prompt name")


def _with_context(error: SourceError, context: str) -> SourceError:
    return type(error)(f"{context}: {error}") if context else error


async def _error_code(response: aiohttp.ClientResponse) -> str:
    """MLflow's ``error_code``; a 4xx without one did not come from MLflow's API."""
    try:
        body = json.loads(await _read_body(response, 64 * 1024))
    except (SourceError, ValueError, aiohttp.ClientError):
        body = None
    code = body.get("error_code") if isinstance(body, dict) else None
    if not isinstance(code, str) or not re.fullmatch(r"[A-Z_]{1,64}", code):
        raise InvalidResponse(
            f"HTTP {response.status} without an MLflow error (is the url an MLflow server?)"
        )
    return code


def _json_object(raw: bytes, path: str) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except ValueError:
        raise InvalidResponse(f"MLflow {path} answered with something that is not JSON") from None
    if not isinstance(data, dict):
        raise InvalidResponse(f"MLflow {path} answered with JSON that is not an object")
    return data


def _object(answer: dict[str, Any], field: str) -> dict[str, Any]:
    value = answer.get(field)
    if not isinstance(value, dict):
        raise InvalidResponse(f"MLflow answered without a {field!r} object")
    return value


def _tags(entity: dict[str, Any]) -> dict[str, str]:
    """An entity's tags as a dict (the REST API spells them as a list of key/value objects)."""
    tags = entity.get("tags", [])
    if not isinstance(tags, list):
        raise InvalidResponse("MLflow answered with tags that are not a list")
    # Tags collapse by key with the last value winning, as in MLflow itself.
    return {
        tag["key"]: tag.get("value", "")
        for tag in tags
        if isinstance(tag, dict) and isinstance(tag.get("key"), str)
    }


def _tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"key": key, "value": value} for key, value in tags.items()]


def _prompt_text(key: str, value: Any) -> str:
    """The text of a prompt component to write; MLflow keeps nothing else of it."""
    if not (isinstance(value, dict) and set(value) == {"text"}):
        raise PermanentError(f"cannot apply {key}: MLflow holds a prompt's text only")
    text = value["text"]
    if not isinstance(text, str):
        raise PermanentError(f"cannot apply {key}: its text is not a string")
    if len(text) > MAX_TEXT:
        raise PermanentError(
            f"cannot apply {key}: MLflow keeps at most {MAX_TEXT} characters of text"
        )
    return text


def _text(name: str, version: dict[str, Any]) -> str:
    text = _tags(version).get(TEXT)
    if not isinstance(text, str):
        raise InvalidResponse(f"prompt {name}: the aliased version has no {TEXT} tag")
    return text  # a chat prompt's text is a JSON list of messages: kept as stored


def _version_number(version: dict[str, Any]) -> str:
    number = version.get("version")
    if not isinstance(number, str) or not number.isdigit():
        raise InvalidResponse("MLflow answered with a model version without a version number")
    return number


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
