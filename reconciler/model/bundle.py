"""bundle.yaml (design §4, contract): the desired config of one agent."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .names import check_name


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)


class Variant(_Strict):
    """One device tier's artifact of the model (design §13): cut from the same checkpoint."""

    quant: str
    url: str
    #: The artifact's hex sha256: checked before any manifest names it.
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    min_ram_gb: float | None = Field(default=None, gt=0)
    #: What a device that cannot run this tier falls back to (e.g. ``cloud``).
    fallback: str | None = None

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://", "file://")):
            raise ValueError("a variant url must start with http://, https:// or file://")
        return value


class ModelPin(_Strict):
    """The model the agent runs: provider, model name, dated version, sampling params, and
    (on devices) one artifact per device tier."""

    provider: str
    name: str
    version: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    #: Device tier -> its artifact (design §13); a tier's render keeps only its own.
    variants: dict[str, Variant] = Field(default_factory=dict)

    @field_validator("variants")
    @classmethod
    def _tiers(cls, value: dict[str, Variant]) -> dict[str, Variant]:
        for key in value:
            check_name(key, "device tier")
        return value


class PromptRef(_Strict):
    """A prompt text kept in a file of the bundle."""

    file: str


class SchemaRef(_Strict):
    """A JSON Schema (a tool or an output schema) kept in a file of the bundle."""

    schema_file: str = Field(alias="schema")


class Flag(_Strict):
    """A feature flag: on/off, a rollout percentage, and variant weights."""

    enabled: bool
    rollout: float = Field(default=100, ge=0, le=100)
    variants: dict[str, float] = Field(default_factory=dict)


class BundleSpec(_Strict):
    """The whole of bundle.yaml. Every section but ``name`` and ``model`` is optional."""

    api_version: Literal["agent-reconciler/v1"] = Field(
        default="agent-reconciler/v1", alias="apiVersion"
    )
    kind: Literal["AgentBundle"] = "AgentBundle"
    name: str
    model: ModelPin
    prompts: dict[str, PromptRef] = Field(default_factory=dict)
    tools: dict[str, SchemaRef] = Field(default_factory=dict)
    output_schemas: dict[str, SchemaRef] = Field(default_factory=dict)
    guardrails: dict[str, dict[str, Any]] = Field(default_factory=dict)
    flags: dict[str, Flag] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_name(value, "bundle name")

    @field_validator("prompts", "tools", "output_schemas", "guardrails", "flags")
    @classmethod
    def _keys(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key in value:
            check_name(key, "component name")
        return value
