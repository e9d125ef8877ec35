"""A ``devices`` target in targets/<env>.yaml (design §13): its keys, and bad input in one line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from reconciler.model.inventory import TargetSpec
from tests.support.cli import reconciler, validate_errors
from tests.support.configrepo import ConfigRepo, inventory
from tests.support.devicefleet import MANIFEST, devices, variants


def test_a_devices_target_reads_with_its_defaults() -> None:
    spec = TargetSpec.model_validate(devices(adoption={"target": "95%", "within": "3d"}))
    assert spec.is_devices() and spec.source is None
    assert spec.channels == ["stable"]
    assert spec.adoption.target == pytest.approx(0.95) and spec.adoption.within == 3 * 86400
    assert spec.manifest_template() == MANIFEST["path"]
    assert TargetSpec.model_validate(devices()).adoption.target == pytest.approx(0.9)


@pytest.fixture
def repo(tmp_path: Path) -> ConfigRepo:
    repo = ConfigRepo(tmp_path / "config")
    repo.bundle(variants=variants())
    repo.commit("v1")
    return repo


def _validate(repo: ConfigRepo, target: dict[str, Any]) -> str:
    repo.write("targets/production.yaml", inventory([target]))
    run = reconciler("--repo", repo.root, "validate")
    assert run.code == 1, (run.out, run.err)
    assert "Traceback" not in run.err
    lines = [line for line in run.err.splitlines() if line.strip()]
    assert lines[-1] == "1 error(s)", run.err
    assert "targets/production.yaml" in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize(
    ("target", "needle"),
    [
        (devices(adoption={"target": "0%"}), "above 0% and at most 100%"),
        (devices(adoption={"target": "120%"}), "above 0% and at most 100%"),
        (devices(adoption={"target": 1.5}), "above 0% and at most 100%"),
        (
            devices(manifest={"type": "file", "path": "m/{bundle}/{channel}.json"}),
            "has no {tier}, but the bundle has 3 tiers (high, low, mid)",
        ),
        (
            devices(
                channels=["beta", "stable"],
                manifest={"type": "file", "path": "m/{bundle}/{tier}.json"},
            ),
            "has no {channel}",
        ),
        (devices(channels=["beta", "beta"]), "listed twice"),
        (devices(source={"type": "file", "path": "x.json"}), "has no source"),
        (devices(group="g"), "no group"),
        (devices(health={"url": "http://127.0.0.1:1/h"}), "observed by its telemetry"),
        ({"name": "a", "kind": "devices", "manifest": MANIFEST}, "needs manifest: and telemetry:"),
        (
            {"name": "a", "source": {"type": "file", "path": "x.json"}, "channels": ["beta"]},
            "only a target of kind devices",
        ),
        ({"name": "a"}, "needs a source"),
    ],
)
def test_bad_devices_targets_are_one_line(
    repo: ConfigRepo, target: dict[str, Any], needle: str
) -> None:
    assert needle in _validate(repo, target)


@pytest.mark.parametrize(
    ("wave", "needle"),
    [
        (
            {"name": "beta", "targets": ["android"], "channels": ["bta"]},
            "rollout.waves[0].channels: wave 'beta': 'bta' is no channel of the devices "
            "targets it names (beta, stable)",
        ),
        (
            {"name": "beta", "targets": ["ios"], "channels": ["beta"]},
            "rollout.waves[0].channels: wave 'beta' lists channels but names no devices target",
        ),
    ],
)
def test_a_wave_names_channels_its_devices_targets_have(
    repo: ConfigRepo, wave: dict[str, Any], needle: str
) -> None:
    """A misspelt channel switched nothing in its wave: its channel went out with the last."""
    target = devices(channels=["beta", "stable"])
    waves = [wave, {"name": "stable", "targets": ["*"]}]
    repo.write("targets/production.yaml", inventory([target], rollout={"waves": waves}))
    (error,) = validate_errors(repo.root)
    assert needle in error, error
    waves[0] = {"name": "beta", "targets": ["*"], "channels": ["beta"]}
    repo.write("targets/production.yaml", inventory([target], rollout={"waves": waves}))
    run = reconciler("--repo", repo.root, "validate")
    assert run.code == 0, run.err


def test_a_devices_target_needs_tiers_in_its_bundle(tmp_path: Path) -> None:
    repo = ConfigRepo(tmp_path / "plain")
    repo.bundle()
    repo.commit("no variants")
    assert "has no model.variants" in _validate(repo, devices())


def test_min_supported_must_name_a_revision_of_the_repo(repo: ConfigRepo) -> None:
    """validate catches what the audit would refuse (design §11: every static check)."""
    line = _validate(repo, devices(min_supported="v9"))
    assert "target android: min_supported 'v9': unknown revision 'v9'" in line, line
    repo.git("tag", "v1")
    repo.write("targets/production.yaml", inventory([devices(min_supported="v1")]))
    assert reconciler("--repo", repo.root, "validate").code == 0


def test_a_good_devices_target_validates(repo: ConfigRepo) -> None:
    repo.write("targets/production.yaml", inventory([devices(channels=["beta", "stable"])]))
    run = reconciler("--repo", repo.root, "validate")
    assert run.code == 0, run.err
