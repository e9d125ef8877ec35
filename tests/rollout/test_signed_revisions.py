"""Signed revisions end to end (design §10, issue "Hardening" item 14): with ``verify:`` in the
inventory (or ``--verify-signatures``), ``converge`` applies only revisions whose commit
signature verifies; an unsigned tip is Unverified: nothing of it is written, the alert names the
commit and why, the last verified revision stays desired, and converge exits 2."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.servers.webhook import Webhook
from tests.support.cli import reconciler
from tests.support.configrepo import ConfigRepo, inventory


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    ssh_keygen = shutil.which("ssh-keygen")
    assert ssh_keygen, "ssh-keygen is missing (Debian: openssh-client)"
    path = tmp_path_factory.mktemp("key") / "alice"
    subprocess.run([ssh_keygen, "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return path, path.with_suffix(".pub").read_text().strip()


def _commit(repo: ConfigRepo, message: str, key: Path | None) -> str:
    repo.git("add", "-A")
    sign = ["-c", "gpg.format=ssh", "-c", f"user.signingkey={key}"] if key else []
    repo.git(*sign, "commit", "-q", *(["-S"] if key else []), "-m", message)
    return repo.git("rev-parse", "HEAD").strip()


@pytest.mark.parametrize("how", ["inventory", "flag"])
def test_only_signed_revisions_are_converged(
    tmp_path: Path, key: tuple[Path, str], webhook: Webhook, how: str
) -> None:
    private, public = key
    repo = ConfigRepo(tmp_path / "config")
    repo.bundle()
    repo.write(".reconciler-signers", f"alice@example.com {public}\n")
    source = {"type": "file", "path": "fleet/a.json"}
    extra = {"alerts": [{"type": "webhook", "url": "${HOOK}"}]}
    if how == "inventory":
        extra["verify"] = {"allowed_signers": ".reconciler-signers"}
    repo.write("targets/production.yaml", inventory([{"name": "a", "source": source}], **extra))
    repo.write(".gitignore", "fleet/\n")
    (repo.root / "fleet").mkdir()
    flag = ["--verify-signatures"] if how == "flag" else []
    env = {"HOOK": webhook.url}

    def converge() -> tuple[int, str, str]:
        run = reconciler("--repo", repo.root, "converge", "--env", "production", *flag, env=env)
        return run.code, run.out, run.err

    def held() -> str:
        return json.loads((repo.root / "fleet" / "a.json").read_text())["revision"]

    signed = _commit(repo, "v1, signed", private)
    assert converge()[0] == 0 and held() == signed

    repo.bundle(prompt="v2: nobody signed this\n")
    unsigned = _commit(repo, "v2, unsigned", None)
    code, out, err = converge()
    assert code == 2, out + err
    assert f"Unverified: {unsigned[:7]}: no signature; nothing of it was written" in err
    assert held() == signed, "the last verified revision stays desired"
    [alert] = [a for a in webhook.wait_for(1) if a["condition"] == "unverified"]
    assert alert["revision"] == unsigned and "no signature" in alert["message"]
    assert f"{signed[:7]} stays desired" in alert["message"]

    repo.bundle(prompt="v3: signed again\n")
    again = _commit(repo, "v3, signed", private)
    assert converge()[0] == 0 and held() == again
