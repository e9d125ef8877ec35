"""Writing a device fleet (design §13) end to end: manifests per channel and tier, staged then
switched together, waves by channel, artifacts checked first against the real nginx, and a
rollback that revokes what each tier served."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from tests.servers.nginx import Nginx
from tests.support.cli import Run, reconciler
from tests.support.configrepo import T0, ConfigRepo, inventory
from tests.support.devicefleet import devices

TIERS = (("high", "q8_0"), ("mid", "q4_k_m"), ("low", "q4_0"))


class Artifacts:
    """Model files served by nginx, each with a ``.sha256`` sidecar or none."""

    def __init__(self, folder: Path, base: str) -> None:
        self.folder, self.base = folder, base
        folder.mkdir(parents=True, exist_ok=True)

    def put(self, name: str, content: bytes, sidecar: bool = True) -> dict[str, Any]:
        (self.folder / name).write_bytes(content)
        hex_ = hashlib.sha256(content).hexdigest()
        if sidecar:
            (self.folder / f"{name}.sha256").write_text(f"{hex_}  {name}\n")
        return {"url": self.base + name, "sha256": hex_}


@pytest.fixture
def setup(tmp_path: Path, nginx: Nginx) -> tuple[ConfigRepo, Artifacts]:
    folder = tmp_path / "models"
    folder.mkdir()
    artifacts = Artifacts(folder, nginx.serve(folder))
    repo = ConfigRepo(tmp_path / "config")
    repo.write(
        "targets/production.yaml",
        inventory(
            [devices(channels=["beta", "stable"])],
            rollout={
                "waves": [
                    {"name": "beta", "targets": ["android"], "channels": ["beta"]},
                    {"name": "stable", "targets": ["android"]},
                ]
            },
        ),
    )
    return repo, artifacts


def variants(artifacts: Artifacts, version: str, *, sidecar: bool = True) -> dict[str, Any]:
    made = {}
    for tier, quant in TIERS:
        name = f"{version}-{quant}.gguf"
        made[tier] = {"quant": quant, **artifacts.put(name, f"{version} {tier}".encode(), sidecar)}
    return made


def manifests(repo: ConfigRepo) -> dict[tuple[str, str], dict[str, Any]]:
    found = {}
    for channel in ("beta", "stable"):
        for tier, _ in TIERS:
            path = repo.root / f"manifests/support-agent/{channel}/{tier}.json"
            if path.exists():
                found[(channel, tier)] = json.loads(path.read_text())
    return found


def converge(repo: ConfigRepo, *args: str) -> Run:
    return reconciler("--repo", repo.root, "converge", "--env", "production", *args)


def render_tier(repo: ConfigRepo, tier: str) -> dict[str, Any]:
    run = reconciler("--repo", repo.root, "render", "support-agent", "--tier", tier)
    assert run.code == 0, run.err
    doc: dict[str, Any] = run.json()
    return doc


def test_converge_switches_every_manifest_beta_first(setup: tuple[ConfigRepo, Artifacts]) -> None:
    repo, artifacts = setup
    repo.bundle(variants=variants(artifacts, "v1"))
    repo.commit("v1")
    run = converge(repo)
    assert run.code == 0, run.err
    assert "0/0 targets" not in run.out, run.out  # no store rollout to speak of: devices only
    beta = run.out.index("android: beta manifests")
    stable = run.out.index("android: stable manifests")
    assert beta < stable, run.out
    found = manifests(repo)
    assert len(found) == 6
    for (channel, tier), doc in found.items():
        assert doc["digest"] == render_tier(repo, tier)["digest"]
        assert doc["channel"] == channel and doc["tier"] == tier and doc["revoked"] == []
    # staged copies beside the serving manifests (design §12)
    assert list((repo.root / "manifests/support-agent/beta").glob("mid.json.staged/*.json"))


def test_dry_run_says_which_manifests_would_switch_and_writes_none(
    setup: tuple[ConfigRepo, Artifacts],
) -> None:
    repo, artifacts = setup
    repo.bundle(variants=variants(artifacts, "v1"))
    sha = repo.commit("v1")
    for args in ((), ("--target", "android")):
        run = converge(repo, "--dry-run", *args)
        assert run.code == 0, run.err
        lines = run.out.splitlines()
        assert lines[:2] == [
            f"android: would switch the {channel} manifests of support-agent to {sha[:7]} "
            "(high, low, mid)"
            for channel in ("beta", "stable")
        ], run.out
        assert ("would apply to" in run.out) is not bool(args), run.out
    assert manifests(repo) == {}


def test_a_wrong_sha256_switches_no_manifest(setup: tuple[ConfigRepo, Artifacts]) -> None:
    repo, artifacts = setup
    repo.bundle(variants=variants(artifacts, "v1"))
    repo.commit("v1")
    assert converge(repo).code == 0
    before = manifests(repo)
    bad = variants(artifacts, "v2", sidecar=False)  # read in full: no sidecar
    stated = "0" * 64
    bad["mid"]["sha256"] = stated
    repo.bundle(variants=bad)
    repo.commit("v2 with a wrong mid sha256", when=T0.replace(day=T0.day + 1))
    run = converge(repo)
    assert run.code == 2, (run.out, run.err)
    assert "Traceback" not in run.err
    assert "tier mid" in run.err and bad["mid"]["url"] in run.err, run.err
    actual = hashlib.sha256(b"v2 mid").hexdigest()
    assert f"stated sha256 {stated}" in run.err and f"actual {actual}" in run.err
    assert manifests(repo) == before  # no manifest of the target switched
    missing = variants(artifacts, "v3")
    (artifacts.folder / "v3-q4_0.gguf").unlink()
    (artifacts.folder / "v3-q4_0.gguf.sha256").unlink()
    repo.bundle(variants=missing)
    repo.commit("v3 with a missing low artifact", when=T0.replace(day=T0.day + 2))
    run = converge(repo)
    assert run.code == 2 and "tier low" in run.err and "actual missing" in run.err, run.err
    assert manifests(repo) == before


def test_rollback_switches_back_and_revokes(setup: tuple[ConfigRepo, Artifacts]) -> None:
    repo, artifacts = setup
    repo.bundle(variants=variants(artifacts, "v1"))
    v1 = repo.commit("v1")
    assert converge(repo).code == 0
    old = {tier: render_tier(repo, tier)["digest"] for tier, _ in TIERS}
    repo.bundle(variants=variants(artifacts, "v2"))
    repo.commit("v2", when=T0.replace(day=T0.day + 1))
    assert converge(repo).code == 0
    new = {tier: render_tier(repo, tier)["digest"] for tier, _ in TIERS}
    run = reconciler(
        "--repo", repo.root, "rollback", "--env", "production", "--to", v1, "--reason", "bad"
    )
    assert run.code == 0, (run.out, run.err)
    for (_, tier), doc in manifests(repo).items():
        assert doc["digest"] == old[tier]
        assert doc["revoked"] == [new[tier]]
    # The fix after the rollback is a new bundle content: it converges (a devices-only fleet's
    # store rollout, aborted by the rollback, held every later commit at exit 2).
    repo.bundle(variants=variants(artifacts, "v3"))
    v3 = repo.commit("v3, fixed", when=T0.replace(day=T0.day + 2))
    run = converge(repo)
    assert run.code == 0, (run.out, run.err)
    fixed = {tier: render_tier(repo, tier)["digest"] for tier, _ in TIERS}
    for (_, tier), doc in manifests(repo).items():
        assert (doc["digest"], doc["revision"]) == (fixed[tier], v3)
    status = reconciler("--repo", repo.root, "rollout", "status", "--env", "production")
    assert f"-> {v3[:7]}" in status.out, status.out  # the rollout shown is the desired one's
