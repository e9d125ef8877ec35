"""An ``alerts:`` entry of targets/<environment>.yaml (design §15): where a type of alert goes,
which conditions and bundles it is routed, and the keys each type needs. No I/O here."""

from __future__ import annotations

import re
from fnmatch import fnmatchcase
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .codes import AlertCondition

#: The conditions ``on:`` may name: every alert's (a torn group too, which an on-call rotation
#: wants paged by name).
CONDITIONS = frozenset(AlertCondition)
#: PagerDuty's Events API v2 endpoint (the default ``url`` of a ``pagerduty`` alert).
PAGERDUTY_URL = "https://events.pagerduty.com/v2/enqueue"
#: GitHub's REST API (GitHub Enterprise Server sets its own ``api_url``).
GITHUB_API = "https://api.github.com"

_REFERENCE = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}")
_REPOSITORY = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9._-]+")
#: The keys each type takes besides ``type``, ``on`` and ``bundles`` (required ones first).
KEYS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "webhook": (("url",), ("secret",)),
    "slack": (("url",), ()),
    "pagerduty": (("routing_key",), ("url",)),
    "github": (("repository", "token"), ("api_url",)),
}


class AlertSpec(BaseModel):
    """Where alerts go: one destination, routed by condition (``on``) and bundle (``bundles``)."""

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)

    type: Literal["webhook", "slack", "pagerduty", "github"]
    url: str | None = None  #: webhook, slack; pagerduty's Events API (default PAGERDUTY_URL)
    secret: str | None = None  #: webhook: signs the body (X-Reconciler-Signature-256)
    routing_key: str | None = None  #: pagerduty: the integration key, as ``${VAR}``
    repository: str | None = None  #: github: ``owner/name``
    token: str | None = None  #: github: a token allowed to write deployments, as ``${VAR}``
    api_url: str | None = None  #: github: default GITHUB_API
    #: The conditions sent here (empty: all of them).
    on: list[str] = Field(default_factory=list)
    #: Globs of the bundles sent here (empty: all of them).
    bundles: list[str] = Field(default_factory=list)

    @field_validator("on")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        unknown = [c for c in value if c not in CONDITIONS]
        if unknown:
            raise ValueError(
                f"on: unknown condition {unknown[0]!r} (known: {', '.join(sorted(CONDITIONS))})"
            )
        return value

    @field_validator("repository")
    @classmethod
    def _owner_name(cls, value: str | None) -> str | None:
        if value is not None and not _REPOSITORY.fullmatch(value):
            raise ValueError(f"repository {value!r} must be written as owner/name")
        return value

    @model_validator(mode="after")
    def _keys(self) -> AlertSpec:
        required, optional = KEYS[self.type]
        for key in required:
            if getattr(self, key) is None:
                raise ValueError(f"a {self.type} alert needs {key}")
        for key in {"url", "secret", "routing_key", "repository", "token", "api_url"}:
            if key not in required + optional and getattr(self, key) is not None:
                raise ValueError(f"a {self.type} alert takes no {key}")
        return self


def routes(spec: AlertSpec, bundle: str, condition: str) -> bool:
    """Whether an alert of ``condition`` for ``bundle`` goes to ``spec`` (a plain reading too)."""
    if spec.on and condition not in spec.on:
        return False
    return not spec.bundles or any(fnmatchcase(bundle, glob) for glob in spec.bundles)


def plain_secrets(spec: AlertSpec) -> list[str]:
    """The keys of ``spec`` holding a secret written in the file, not as a ``${VAR}``."""
    keys = ("routing_key", "token", "secret")
    return [k for k in keys if (v := getattr(spec, k)) and not _REFERENCE.fullmatch(v)]
