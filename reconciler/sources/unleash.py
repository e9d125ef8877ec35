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

from ..canonical import bundle_digest
from ..errors import ConfigError
from ..model.bundle import Flag
from ..model.inventory import TargetSpec, UnleashSourceSpec
from .env import expand
from .interface import Health, InvalidResponse, NotFound, PermanentError, observed, to_apply
from .naming import NameTemplate
from .rest import HttpClient, HttpHealthCheck, Transport, resolve_url
from .unleash_flags import (
    FlagNames,
    Strategy,
    component,
    desired,
    environment_state,
    same_strategy,
    split,
    strategy_id,
)

if TYPE_CHECKING:
    from ..diff.document import Document
    from .context import SourceContext

#: Seconds one REST call may take (connecting included); GETs and PUTs get 3 attempts.
DEFAULT_TIMEOUT = 10.0
#: Features apply creates are of this type (Unleash's default for short-lived rollouts).
FEATURE_TYPE = "release"
#: GETs of single features in flight during one fetch.
_CONCURRENCY = 8
#: How a release flag's description starts: the bundle's own flags never list it.
RELEASE_STAMP = "agent-reconciler release flag"
#: Statuses Unleash refuses a request with, explaining why in its JSON ``message``.
REFUSED = (400, 404, 409)


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
        headers = {"Authorization": token, "Accept": "application/json"}
        self._transport = Transport(client, headers=headers, timeout=timeout, max_body=max_body)
        self._api = base.rstrip("/") + "/api/admin/"
        self._target = target
        self._token = token
        self._project = project
        self._environment = environment
        self._names = names
        self._health = HttpHealthCheck(
            client, base.rstrip("/") + "/health", headers={}, timeout=timeout
        )
        self._features = f"projects/{quote(project, safe='')}/features"

    def __repr__(self) -> str:
        return f"UnleashSource(project={self._project!r}, environment={self._environment!r})"

    # -- reading -----------------------------------------------------------------------------

    async def fetch(self, bundle: str) -> Document:
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
                env = environment_state(feature, found[flag], self._environment, self._project)
                components[f"flag/{flag}"] = component(
                    env["enabled"], env["strategies"], found[flag]
                )
        if not components:
            raise NotFound(f"no feature for bundle {bundle} in project {self._project}")
        # No revision: descriptions carry provenance, but fetch never trusts stamps.
        return observed(bundle, components, what="a flag")

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
            if str(feature.get("description") or "").startswith(RELEASE_STAMP):
                continue  # a release flag (design §12.1) is the rollout's, not a bundle flag
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

    # -- writing -----------------------------------------------------------------------------

    async def apply(self, bundle: str, document: bytes) -> None:
        doc = to_apply(bundle, document)
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
        env = environment_state(feature, name, self._environment, self._project)
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

    # -- the release flag (design §12.1) ---------------------------------------------------

    async def release_variants(self, name: str) -> list[dict[str, Any]] | None:
        """The variants of the release flag's strategy (ours by groupId); None when the
        feature does not exist or has no such strategy yet."""
        feature = await self._feature(name)
        if feature is None:
            return None
        env = environment_state(feature, name, self._environment, self._project)
        managed, _ = split(env["strategies"], name)
        if managed is None or not isinstance(managed.get("variants"), list):
            return None
        return [v for v in managed["variants"] if isinstance(v, dict)]

    async def write_release(self, name: str, strategy: Strategy, stamp: str) -> None:
        """One write of the release flag's strategy (created with it the first time, and
        switched on then): the step's weight and both payloads move together."""
        feature = await self._feature(name)
        if feature is None:
            await self._create(name, f"{RELEASE_STAMP}: {stamp}")
            feature = await self._feature(name)
            if feature is None:
                raise PermanentError(f"feature {name}: not found right after creating it")
        env = environment_state(feature, name, self._environment, self._project)
        managed, _ = split(env["strategies"], name)
        path = f"{self._feature_path(name)}/environments/{quote(self._environment, safe='')}"
        if managed is None:
            what = f"release flag {name}: adding its strategy"
            await self._call("POST", f"{path}/strategies", strategy, what=what)
        else:
            sid = quote(strategy_id(managed, name), safe="")
            what = f"release flag {name}: writing its strategy"
            await self._call("PUT", f"{path}/strategies/{sid}", strategy, what=what)
        if not env["enabled"]:
            await self._call("POST", f"{path}/on", what=f"release flag {name}: switching on")

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
        answer = await self._transport.request(
            method, self._api + path, json_body=body, what=what, answers=(*accept, *REFUSED)
        )
        if answer.status in accept:
            return None
        if answer.status >= 300:
            raise PermanentError(f"{what}: HTTP {answer.status}{self._reason(answer.body)}")
        if not answer.body.strip():
            return {}
        try:
            return json.loads(answer.body)
        except ValueError:
            raise InvalidResponse(f"{what}: the answer is not JSON (is the url Unleash?)") from None

    def _reason(self, body: bytes) -> str:
        """Unleash's own message for a refused request, on one line and without the token."""
        try:
            answer = json.loads(body)
        except ValueError:
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
