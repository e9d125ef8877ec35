"""The output contract in the audit (design §5): every target with ``outputs:`` is sampled once
per audit, and each output checked against the output schemas of the revision the target runs.

A broken contract is the ``output_contract`` finding (an error, in the default ``--fail-on``)
even on an in-sync target: the config is right, and the agent still breaks its contract. Outputs
that cannot be read are an ``outputs_unchecked`` warning. The rollout reads the same checks
(:attr:`Survey.outputs`) as a bake gate.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..bundle.snapshot import Snapshot
from ..diff.classify import Status
from ..errors import ConfigError
from ..gates.contract import Checked, check, unchecked
from ..gates.outputs import sample_all
from ..model.codes import FindingCode
from .results import Finding, Survey, TargetResult

if TYPE_CHECKING:
    from ..environment import EnvironmentRun

#: Statuses whose observed revision is what the target runs.
_KNOWN = (Status.IN_SYNC, Status.LAGGING, Status.NOT_LOADED)
SCHEMA = "output_schema/"


def check_outputs(
    survey: Survey,
    git: Snapshot,
    run: EnvironmentRun,
    *,
    left: float | None = None,
    deadline: float | None = None,
) -> None:
    """Sample and check every target's outputs, on the run's loop and HTTP pool; record each
    check and its finding. ``left`` is what remains of the audit's ``deadline``: sampling
    waits no longer."""
    checked = [t for t in survey.targets if t.spec.outputs is not None]
    if not checked:
        return
    asks = [(t.spec.outputs, t.name) for t in checked if t.spec.outputs is not None]
    client = run.sources.http
    samples = run.call(sample_all(asks, run.environ, left=left, deadline=deadline, client=client))
    for target, got in zip(checked, samples, strict=True):
        spec = target.spec.outputs
        assert spec is not None
        if isinstance(got, ConfigError):
            raise got  # an unset ${VAR}: a config error, like a source's
        schemas, guessed = _schemas(target, git)
        if isinstance(got, list):
            done = check(got, schemas, spec.max_invalid)
        else:
            done = unchecked(f"outputs endpoint: {got}", spec.max_invalid)
        survey.outputs[target.name] = done
        finding = _finding(target.name, done, guessed)
        if finding is not None:
            survey.findings.append(finding)


def _schemas(target: TargetResult, git: Snapshot) -> tuple[dict[str, tuple[str, Any]], list[str]]:
    """Output schema name -> (bundle, schema) at the revision the target runs (the first bundle
    declaring a name wins); and the bundles whose revision is unknown (checked against desired)."""
    found: dict[str, tuple[str, Any]] = {}
    guessed: list[str] = []
    for result in target.bundles:
        history = git.history(result.bundle)
        rendered = None
        if result.status in _KNOWN and result.observed_revision:
            rendered = history.rendered(result.observed_revision, target.name)
        if rendered is None:
            rendered = history.desired_render(target.name)
            guessed.append(result.bundle)
        for key, value in rendered.components.items():
            if key.startswith(SCHEMA):
                found.setdefault(key.removeprefix(SCHEMA), (result.bundle, value))
    return found, guessed


def _finding(target: str, done: Checked, guessed: list[str]) -> Finding | None:
    if done.error:
        return Finding("warning", FindingCode.OUTPUTS_UNCHECKED, done.message, target)
    if not done.broken:
        return None
    note = ""
    if done.bundle in guessed:
        note = " (checked against the desired revision: the one it runs is unknown)"
    return Finding("error", FindingCode.OUTPUT_CONTRACT, done.message + note, target, done.bundle)
