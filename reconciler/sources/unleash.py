"""The ``unleash`` source: each ``flag/<name>`` is an Unleash feature in one project/environment.

It speaks Unleash's admin REST API over the shared HTTP client. A flag lives in the environment
as its on/off switch plus one ``flexibleRollout`` strategy (the rollout percentage, and the
variants with weights in tenths of a percent); fetch reads that back into the component
``render.flag_component`` makes, and apply writes it, never touching a feature the document
does not name.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import aiohttp

from ..canonical import bundle_digest
from ..errors import ConfigError
from ..model.bundle import Flag
from ..model.inventory import TargetSpec, UnleashSourceSpec
from ..observation import InvalidDocument, parse
from ..render import RENDERED_SCHEMA
from .env import expand
from .http import (
    HttpClient,
    HttpHealthCheck,
    _drain,
    _read_body,
    exception_error,
    resolve_url,
    status_error,
)
from .interface import (
    Health,
    InvalidResponse,
    NotFound,
    PermanentError,
    SourceError,
    Unauthorized,
)
from .naming import NameTemplate
from .unleash_flags import (
    FlagNames,
    Strategy,
    component,
    desired,
    same_strategy,
    split,
    strategy_id,
)

if TYPE_CHECKING:
    from .registry import SourceContext

#: Seconds one REST call may take (connecting included); GETs and PUTs get 3 attempts.
DEFAULT_TIMEOUT = 10.0
#: Features apply creates are of this type (Unleash's default for short-lived rollouts).
FEATURE_TYPE = "release"
#: GETs of single features in flight during one fetch.
_CONCURRENCY = 8


class UnleashSource:
    """One Unleash project and environment; ``token`` arrives with ``${VAR}`` expanded."""

    def __init__(
        self,
        client: HttpClient,
        base: str,
        *,
        target: TargetSpec,
        token: str,
        project: str,
        environment: str,
        names: NameTemplate,
        timeout: float = DEFAULT_TIMEOUT,
        max_body: int,
    ) -> None:
        self._client = client
        self._api = base.rstrip("/") + "/api/admin/"
        self._target = target
        self._token = token
        self._headers = {"Authorization": token, "Accept": "application/json"}
        self._project = project
        self._environment = environment
        self._names = names
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._seconds = timeout
        self._max_body = max_body
        self._health = HttpHealthCheck(
            client, base.rstrip("/") + "/health", headers={}, timeout=timeout
        )
        self._features = f"projects/{quote(project, safe='')}/features"

    def __repr__(self) -> str:
        return f"UnleashSource(project={self._project!r}, environment={self._environment!r})"

    # -- reading -----------------------------------------------------------------------------

    async def fetch(self, bundle: str) -> bytes:
        found = await self._find_features(bundle)
        if not found:
            await self._check_project()
            raise NotFound(f"no feature for bundle {bundle} in project {self._project}")
        limit = asyncio.Semaphore(_CONCURRENCY)

        async def read(name: str) -> dict[str, Any] | None:
            async with limit:
                return await self._feature(name)

        features = await asyncio.gather(
            *(read(name) for name in found.values()), return_exceptions=True
        )
        components: dict[str, Any] = {}
        for flag, feature in zip(found, features, strict=True):
            if isinstance(feature, BaseException):
                raise feature
            if feature is not None:  # None: deleted since the listing
                env = self._env(feature, found[flag])
                components[f"flag/{flag}"] = component(
                    env["enabled"], env["strategies"], found[flag]
                )
        if not components:
            raise NotFound(f"no feature for bundle {bundle} in project {self._project}")
        document = {
            "schema": RENDERED_SCHEMA,
            "name": bundle,
            "revision": None,  # descriptions carry provenance, but fetch never trusts stamps
            "components": dict(sorted(components.items())),
        }
        return json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8")

    async def _find_features(self, bundle: str) -> dict[str, str]:
        """``{flag: feature name}`` for the live (not archived) features the target carries."""
        listing = await self._call("GET", self._features, what=f"project {self._project}")
        features = listing.get("features") if isinstance(listing, dict) else None
        if not isinstance(features, list):
            raise InvalidResponse(f"project {self._project}: the answer has no 'features' list")
        matcher = self._names.matcher(bundle)
        found: dict[str, str] = {}
        for feature in features:
            name = feature.get("name") if isinstance(feature, dict) else None
            match = matcher.fullmatch(name) if isinstance(name, str) else None
            if match is None or feature.get("archived"):
                continue
            if self._target.carries_component(f"flag/{match['flag']}"):
                found[match["flag"]] = match.string
        return dict(sorted(found.items()))

    async def _check_project(self) -> None:
        """A project that does not exist lists no features: say so instead of 'missing'."""
        answer = await self._call("GET", "projects", what="projects", accept=(401, 403, 404))
        projects = answer.get("projects") if isinstance(answer, dict) else None
        if isinstance(projects, list) and not any(
            isinstance(p, dict) and p.get("id") == self._project for p in projects
        ):
            raise PermanentError(f"project {self._project} does not exist")

    async def _feature(self, name: str) -> dict[str, Any] | None:
        """One feature with its per-environment state; None when there is no such feature."""
        answer = await self._call(
            "GET", self._feature_path(name), what=f"feature {name}", accept=(404,)
        )
        if answer is None:
            return None
        if not isinstance(answer, dict):
            raise InvalidResponse(f"feature {name}: the answer is not a JSON object")
        return answer

    def _env(self, feature: dict[str, Any], name: str) -> dict[str, Any]:
        """The target's environment of ``feature``, checked for the fields we read."""
        envs = feature.get("environments")
        if not isinstance(envs, list):
            raise InvalidResponse(f"feature {name}: the answer has no 'environments' list")
        for env in envs:
            if isinstance(env, dict) and env.get("name") == self._environment:
                strategies = env.get("strategies", [])
                if not isinstance(env.get("enabled"), bool) or not (
                    isinstance(strategies, list) and all(isinstance(s, dict) for s in strategies)
                ):
                    raise InvalidResponse(
                        f"feature {name}: environment {self._environment} lacks "
                        "'enabled' or 'strategies'"
                    )
                return {**env, "strategies": strategies}
        raise PermanentError(
            f"environment {self._environment} is not enabled in project {self._project}"
        )

    # -- writing -----------------------------------------------------------------------------

    async def apply(self, bundle: str, document: bytes) -> None:
        try:
            doc = parse(document)
        except InvalidDocument as exc:
            raise PermanentError(f"cannot apply: {exc}") from None
        if doc.name != bundle:
            raise PermanentError(f"cannot apply: the document is bundle {doc.name!r}")
        # Check every flag before the first write: a bad one must not leave half a bundle.
        flags: list[tuple[str, str, Flag, Strategy]] = []
        for key, value in sorted(doc.components.items()):
            if key.startswith("flag/") and self._target.carries_component(key):
                name = self._names.name(bundle, key.removeprefix("flag/"))
                flags.append((key, name, *desired(key, value, name)))
        whole = bundle_digest(doc.digests)
        for key, name, flag, strategy in flags:
            stamp = (
                f"Managed by agent-reconciler: bundle {bundle}, {key}, "
                f"revision {doc.stated_revision or 'none'}, bundle digest {whole}, "
                f"flag digest {doc.digests[key]}"
            )
            await self._apply_flag(name, flag, strategy, stamp, doc.digests[key])

    async def _apply_flag(
        self, name: str, flag: Flag, wanted: Strategy, stamp: str, flag_digest: str
    ) -> None:
        """Bring one feature's environment to ``flag``, writing only what differs."""
        feature = await self._feature(name)
        created = feature is None
        if feature is None:
            await self._create(name, stamp)
            feature = await self._feature(name)
            if feature is None:
                raise PermanentError(f"feature {name}: not found right after creating it")
        env = self._env(feature, name)
        managed, others = split(env["strategies"], name)
        path = f"{self._feature_path(name)}/environments/{quote(self._environment, safe='')}"
        changed = False
        if env["enabled"] and not flag.enabled:  # switch off before touching the strategy
            await self._call("POST", f"{path}/off", what=f"feature {name}: switching off")
            changed = True
        if managed is None:
            await self._call(
                "POST", f"{path}/strategies", wanted, what=f"feature {name}: adding a strategy"
            )
            changed = True
        elif not same_strategy(managed, wanted):
            # Update in place: the strategy keeps its id (and Unleash its history).
            await self._call(
                "PUT",
                f"{path}/strategies/{quote(strategy_id(managed, name), safe='')}",
                wanted,
                what=f"feature {name}: updating its strategy",
            )
            changed = True
        for other in others:  # only now: the environment never runs without a strategy
            await self._call(
                "DELETE",
                f"{path}/strategies/{quote(strategy_id(other, name), safe='')}",
                what=f"feature {name}: removing a {other.get('name')} strategy",
                accept=(404,),
            )
            changed = True
        if flag.enabled and not env["enabled"]:
            await self._call("POST", f"{path}/on", what=f"feature {name}: switching on")
            changed = True
        # Provenance: the revision that last wrote this flag (a new revision that leaves the
        # flag as it is writes nothing, not even the description).
        description = str(feature.get("description") or "")
        if not created and (changed or flag_digest not in description):
            await self._call(
                "PATCH",
                self._feature_path(name),
                [{"op": "replace", "path": "/description", "value": stamp}],
                what=f"feature {name}: stamping its description",
            )

    async def _create(self, name: str, description: str) -> None:
        """Create the feature, or revive an archived one of that name (its history stays)."""
        body = {"name": name, "type": FEATURE_TYPE, "description": description}
        what = f"feature {name}: creating it"
        if await self._call("POST", self._features, body, what=what, accept=(409,)) is not None:
            return
        # 409: the name is taken, most often by a feature archived by hand. Revive it rather
        # than delete it: Unleash keeps its event history, and it comes back disabled everywhere
        # with its old strategies, which the apply then replaces. Unleash refuses (403) to
        # revive a feature of another project, so this never touches someone else's flag.
        revived = await self._call(
            "POST",
            f"projects/{quote(self._project, safe='')}/revive",
            {"features": [name]},
            what=f"feature {name}: reviving it from the archive",
            accept=(403,),
        )
        if revived is None:
            raise PermanentError(f"{what}: the name is taken by a feature of another project")

    # -- HTTP --------------------------------------------------------------------------------

    def _feature_path(self, name: str) -> str:
        return f"{self._features}/{quote(name, safe='')}"

    async def _call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        what: str,
        accept: tuple[int, ...] = (),
    ) -> Any:
        """One REST call: the answer's JSON (``{}`` when empty), or None for an accepted status.

        Any other non-2xx status raises from the SourceError family, prefixed with ``what``.
        """
        # aiohttp-retry retries failed connections whatever the method: only idempotent
        # requests go through it (a retried POST could create twice).
        requester = self._client.retrying if method in ("GET", "PUT") else self._client.session
        headers = self._headers
        data = None
        if body is not None:
            headers = {**headers, "Content-Type": "application/json"}
            data = json.dumps(body).encode("utf-8")
        try:
            async with requester.request(
                method,
                self._api + path,
                data=data,
                headers=headers,
                timeout=self._timeout,
                allow_redirects=False,
            ) as response:
                status = response.status
                if status < 300:
                    raw = await _read_body(response, self._max_body)
                elif status in accept:
                    await _drain(response)
                    return None
                elif status in (400, 404, 409):
                    raise PermanentError(f"{what}: HTTP {status}{await self._reason(response)}")
                else:
                    await _drain(response)
                    raise _failure(status, what)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            error = exception_error(exc, self._seconds)
            raise type(error)(f"{what}: {error}") from None
        if not raw.strip():
            return {}
        try:
            return json.loads(raw)
        except ValueError:
            raise InvalidResponse(f"{what}: the answer is not JSON (is the url Unleash?)") from None

    async def _reason(self, response: aiohttp.ClientResponse) -> str:
        """Unleash's own message for a refused request, on one line and without the token."""
        try:
            answer = json.loads(await _read_body(response, 64 * 1024))
        except (SourceError, ValueError, aiohttp.ClientError):
            return ""
        message = answer.get("message") if isinstance(answer, dict) else None
        if not isinstance(message, str) or not message.strip():
            return ""
        text = " ".join(message.split())
        for secret in (self._token, self._token.rsplit(".", 1)[-1]):
            text = text.replace(secret, "***") if len(secret) >= 8 else text
        return f": {text[:200]}"

    async def health(self) -> Health:
        return await self._health()

    async def close(self) -> None:
        return None  # the session belongs to the HttpClient, closed with the SourceContext


def _failure(status: int, what: str) -> SourceError:
    if status in (401, 403):
        return Unauthorized(f"{what}: unauthorized (HTTP {status})")
    error = status_error(status)
    return type(error)(f"{what}: {error}")


def open_unleash(
    spec: UnleashSourceSpec,
    target: TargetSpec,
    ctx: SourceContext,
    *,
    timeout: float = DEFAULT_TIMEOUT,
) -> UnleashSource:
    """The source for an ``unleash`` target; settings are checked here, before any I/O."""
    where = f"target {target.name}"
    token = expand(spec.token, ctx.env, where)
    if not token.strip() or "\r" in token or "\n" in token:
        raise ConfigError(f"{where}: the Unleash token is empty or holds a line break")
    for key in ("project", "environment"):
        if not getattr(spec, key):
            raise ConfigError(f"{where}: the Unleash {key} is empty")
    return UnleashSource(
        ctx.http,
        resolve_url(spec.url, ctx.env, where),
        target=target,
        token=token,
        project=spec.project,
        environment=spec.environment,
        names=FlagNames(spec.flag_name, where),
        timeout=timeout,
        max_body=ctx.max_body,
    )
