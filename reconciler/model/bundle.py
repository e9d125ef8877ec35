"""bundle.yaml (design §4, contract): the desired config of one agent."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .names import check_name


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)


class ModelPin(_Strict):
    """The model the agent runs: provider, model name, dated version, sampling params."""

    provider: str
    name: str
    version: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)


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
