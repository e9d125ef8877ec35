"""targets/<environment>.yaml (design §5, contract): the fleet, ignore rules, rollout policy."""

from __future__ import annotations

import datetime as dt
import posixpath
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from .alerting import AlertSpec
from .canary import CanarySpec
from .devices import AdoptionSpec, TelemetrySpec, check_channels, check_kind, check_wave_channels
from .duration import Duration, Timeout
from .gates import AnalysisGate, AnalysisSpec, OutputsSpec
from .methods import PolicyMethods, RuleMethods, TargetMethods
from .names import check_http_url, check_name
from .windowspec import WindowsSpec

TargetKind = Literal[
    "region", "pop", "prompt-registry", "flag-platform", "eval", "devices", "other"
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)


def inside_repo(value: str) -> str:
    """``value`` when it is a path relative to the repo root that stays inside it.

    Lexical, so validate and audit agree before any I/O; whoever reads the file checks
    symbolic links when it reads.
    """
    norm = posixpath.normpath(value)
    if value.startswith("/") or "\\" in value:
        raise ValueError(f"path {value!r} must be relative to the repo root")
    if norm == ".." or norm.startswith("../"):
        raise ValueError(f"path {value!r} escapes the repo root")
    return value


class FileSourceSpec(_Strict):
    """A rendered bundle in a file, relative to the repo root (``{bundle}`` allowed)."""

    type: Literal["file"]
    path: str

    @field_validator("path")
    @classmethod
    def _inside(cls, value: str) -> str:
        # ``{bundle}`` is a plain name and cannot escape; symbolic links are checked by the
        # source on every read.
        return inside_repo(value)


class HttpSourceSpec(_Strict):
    """A rendered bundle behind a URL: GET reads it, ``apply_method`` writes it."""

    type: Literal["http"]
    url: str
    headers: dict[str, str] = Field(default_factory=dict)
    timeout: Timeout = 5.0
    apply_method: Literal["PUT", "POST", "PATCH"] = "PUT"
    #: Where a digest is staged before it serves (design §12): ``{bundle}`` and ``{digest_hex}``.
    stage_url: str | None = None
    #: How a staged digest is made to serve: PUT the content to ``url``, or WebDAV COPY.
    switch: Literal["put", "copy"] = "put"

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return check_http_url(value)

    @field_validator("stage_url")
    @classmethod
    def _stage_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if "{digest_hex}" not in value:
            raise ValueError(
                "stage_url must contain {digest_hex}: two digests would be staged in one place"
            )
        return check_http_url(value)

    @model_validator(mode="after")
    def _copy_needs_stage(self) -> HttpSourceSpec:
        if self.switch == "copy" and self.stage_url is None:
            raise ValueError("switch: copy needs a stage_url to copy from")
        return self


class S3SourceSpec(_Strict):
    """A region's config store: one S3 object per bundle (``{bundle}`` allowed in ``key``).

    Credentials come from the usual AWS chain (environment, profile, instance role)."""

    type: Literal["s3"]
    bucket: str
    key: str
    region: str | None = None
    endpoint_url: str | None = None  #: for S3-compatible servers


class MlflowSourceSpec(_Strict):
    """A prompt registry: each ``prompt/<name>`` is an MLflow prompt version behind an alias."""

    type: Literal["mlflow"]
    url: str
    alias: str = "production"
    prompt_name: str = "{bundle}.{prompt}"
    headers: dict[str, str] = Field(default_factory=dict)


class UnleashSourceSpec(_Strict):
    """A flag platform: each ``flag/<name>`` is an Unleash feature in a project/environment."""

    type: Literal["unleash"]
    url: str
    environment: str
    token: str
    project: str = "default"
    flag_name: str = "{bundle}.{flag}"


SourceSpec = Annotated[
    FileSourceSpec | HttpSourceSpec | S3SourceSpec | MlflowSourceSpec | UnleashSourceSpec,
    Field(discriminator="type"),
]


#: Where a devices target's manifests are written (design §13): one per channel and tier.
ManifestSpec = Annotated[
    FileSourceSpec | HttpSourceSpec | S3SourceSpec, Field(discriminator="type")
]


class HealthSpec(_Strict):
    """An HTTP health check: healthy when the URL answers 2xx within the timeout.

    ``gate: blocking`` (the default) pauses the wave while it fails; ``gate: advisory`` is shown
    and alerted on as a warning but never holds a wave (a non-load-bearing check).
    """

    url: str
    headers: dict[str, str] = Field(default_factory=dict)
    timeout: Timeout = 5.0
    gate: Literal["blocking", "advisory"] = "blocking"


class ProbeSpec(_Strict):
    """The serving process's own report of what it loaded: a rendered bundle at ``url``."""

    url: str
    headers: dict[str, str] = Field(default_factory=dict)
    timeout: Timeout = 5.0

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return check_http_url(value)

    def as_source(self) -> HttpSourceSpec:
        return HttpSourceSpec(type="http", url=self.url, headers=self.headers, timeout=self.timeout)


class TargetSpec(_Strict, TargetMethods):
    """One place where effective config lives."""

    name: str
    kind: TargetKind = "other"
    carries: Literal["all"] | list[str] = "all"
    #: Where the target's config is read and written (every kind but ``devices``).
    source: SourceSpec | None = None
    health: HealthSpec | None = None
    #: Targets that together make up one region's agent (config store, prompt registry,
    #: flag platform): when they run different revisions, the bundle is torn.
    group: str | None = None
    #: Beside the store (``source``), what the serving process says it loaded.
    probe: ProbeSpec | None = None
    #: The agent's recent structured outputs, checked against the bundle's output schemas.
    outputs: OutputsSpec | None = None
    #: A devices target (design §13): the manifests devices poll, one per channel and tier.
    manifest: ManifestSpec | None = None
    #: A devices target: active devices per tier and digest (one Prometheus instant query).
    telemetry: TelemetrySpec | None = None
    #: A devices target's release channels, in the order they are switched.
    channels: list[str] = Field(default_factory=lambda: ["stable"], min_length=1)
    #: A devices target: the share of each tier that should run the desired digest, and when.
    adoption: AdoptionSpec = Field(default_factory=AdoptionSpec)
    #: A devices target: a revision; devices on older ones are unsupported (a warning).
    min_supported: str | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_name(value, "target name")

    @field_validator("channels")
    @classmethod
    def _channels(cls, value: list[str]) -> list[str]:
        return check_channels(value)

    @model_validator(mode="after")
    def _kind(self) -> TargetSpec:
        check_kind(self, self.model_fields_set)
        return self


class IgnoreRule(_Strict, RuleMethods):
    """An expected difference that is not drift; it must say why and who answers for it."""

    targets: list[str] = Field(default_factory=lambda: ["*"])
    components: list[str] = Field(default_factory=lambda: ["*"])
    paths: list[str] = Field(min_length=1)
    reason: str = Field(min_length=1)
    owner: str = Field(min_length=1)
    expires: dt.date | None = Field(default=None, strict=False)  # "2027-03-01" quoted or not


class Wave(_Strict):
    """A step of a rollout: its targets (globs) converge, then bake before the next wave."""

    name: str
    targets: list[str] = Field(min_length=1)
    bake: Duration = 0.0
    #: For devices targets (design §13): the channels this wave switches (None: all).
    channels: list[str] | None = None


class HealthPolicy(_Strict):
    """Hysteresis: consecutive checks needed to call a target healthy or failing."""

    successes: int = Field(default=1, ge=1)
    failures: int = Field(default=2, ge=1)


class RolloutPolicy(_Strict, PolicyMethods):
    """How an environment moves to a new revision."""

    waves: list[Wave] = Field(default_factory=list)
    progress_deadline: Duration = 900.0
    health: HealthPolicy = Field(default_factory=HealthPolicy)
    on_stall: Literal["alert", "rollback"] = "alert"
    self_heal: bool = False
    #: No wave of a desired digest starts before a passing eval record of exactly that digest.
    require_eval: bool = False
    #: Metric gates evaluated during each wave's bake, per target of the wave.
    analysis: list[AnalysisGate] = Field(default_factory=list)
    #: Staged copies kept per target: its last N served digests (design §12; at least 1).
    keep_staged: int = Field(default=3, ge=1)
    #: A bundle change goes out as a traffic canary on a release flag (design §12.1).
    canary: CanarySpec | None = None

    @field_validator("analysis")
    @classmethod
    def _unique_gates(cls, value: list[AnalysisGate]) -> list[AnalysisGate]:
        names = [gate.name for gate in value]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"analysis {', '.join(twice)} is listed twice")
        return value


#: The allowed-signers file ``--verify-signatures`` uses when the inventory has no ``verify:``.
DEFAULT_ALLOWED_SIGNERS = ".reconciler-signers"


class VerifySpec(_Strict):
    """Opt-in verification of what gets converged (design §10; Flux's ``verify``).

    Only revisions whose commit signature git verifies against these files are applied; the
    checking itself is :mod:`reconciler.bundle.trust`. Both paths are relative to the repo root and
    stay inside it. At least one is named; a commit signed in a way no named file covers
    (an SSH signature with only a keyring, say) is not verified.
    """

    #: An SSH allowed-signers file (git's ``gpg.ssh.allowedSignersFile`` format).
    allowed_signers: str | None = None
    #: OpenPGP public keys (``gpg --export``, armored or binary); every key in it is trusted.
    openpgp_keyring: str | None = None

    @field_validator("allowed_signers", "openpgp_keyring")
    @classmethod
    def _inside(cls, value: str | None) -> str | None:
        return None if value is None else inside_repo(value)

    @model_validator(mode="after")
    def _some(self) -> VerifySpec:
        if self.allowed_signers is None and self.openpgp_keyring is None:
            raise ValueError("needs allowed_signers (SSH) or openpgp_keyring (OpenPGP), or both")
        return self

    @classmethod
    def default(cls) -> VerifySpec:
        """What ``--verify-signatures`` means when the inventory has no ``verify:``."""
        return cls(allowed_signers=DEFAULT_ALLOWED_SIGNERS)


class PromotionSpec(_Strict):
    """``promotion:`` (design §14): a digest starts here only after its rollout completed in
    ``from`` and stayed there, unharmed, for ``soak``."""

    from_: str = Field(alias="from")
    soak: Duration = 0.0

    @field_validator("from_")
    @classmethod
    def _env(cls, value: str) -> str:
        return check_name(value, "promotion.from environment")


class Inventory(_Strict):
    """The whole of targets/<environment>.yaml."""

    environment: str
    bundles: list[str] = Field(min_length=1)
    targets: list[TargetSpec] = Field(min_length=1)
    ignore: list[IgnoreRule] = Field(default_factory=list)
    rollout: RolloutPolicy = Field(default_factory=RolloutPolicy)
    alerts: list[AlertSpec] = Field(default_factory=list)
    #: ``rollback``, ``rollout resume`` and ``rollout abort`` need ``--reason`` (design §15).
    require_reason: bool = False
    #: Apply only signed revisions (None: no verification unless ``--verify-signatures``).
    verify: VerifySpec | None = None
    #: Where ``rollout.analysis`` gates are evaluated (Prometheus).
    analysis: AnalysisSpec | None = None
    #: Wave 1 of a digest waits for the upstream environment (None: no promotion).
    promotion: PromotionSpec | None = None
    #: When this environment may change (None: always).
    windows: WindowsSpec | None = None

    @field_validator("environment")
    @classmethod
    def _env(cls, value: str) -> str:
        return check_name(value, "environment")

    @field_validator("bundles")
    @classmethod
    def _bundles(cls, value: list[str]) -> list[str]:
        for name in value:
            check_name(name, "bundle name")
        return value

    @model_validator(mode="after")
    def _unique_targets(self) -> Inventory:
        seen: set[str] = set()
        for index, target in enumerate(self.targets):
            if target.name in seen:
                # ``at``: where in the input the error is (the loader turns it into a line).
                raise PydanticCustomError(
                    "duplicate_target",
                    "target '{name}' is listed twice",
                    {"name": target.name, "at": ("targets", index, "name")},
                )
            seen.add(target.name)
        if self.promotion is not None and self.promotion.from_ == self.environment:
            raise PydanticCustomError(
                "promotion_cycle",
                "promotion.from names this environment itself ({name})",
                {"name": self.environment, "at": ("promotion", "from")},
            )
        self._check_canary()
        check_wave_channels(self.rollout.waves, self.targets)
        if self.rollout.analysis and self.analysis is None:
            raise PydanticCustomError(
                "analysis_provider",
                "rollout.analysis needs a provider: analysis.prometheus.url",
                {"at": ("rollout", "analysis")},
            )
        return self

    def _check_canary(self) -> None:
        """The release flag lives on an unleash target, and the judge reads Prometheus."""
        canary = self.rollout.canary
        if canary is None:
            return
        name = canary.release_flag.target
        found = next((t for t in self.targets if t.name == name), None)
        at = ("rollout", "canary", "release_flag", "target")
        kind = None if found is None else (found.source.type if found.source else found.kind)
        if kind != "unleash":
            what = "no target" if found is None else f"a target of type {kind}"
            raise PydanticCustomError(
                "canary_flag",
                "'{name}' is {what}: the release flag must live on an unleash target",
                {"name": name, "what": what, "at": at},
            )
        if self.analysis is None:
            raise PydanticCustomError(
                "analysis_provider",
                "rollout.canary needs a provider: analysis.prometheus.url",
                {"at": ("rollout", "canary")},
            )
