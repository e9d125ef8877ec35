"""Signed revisions (issue 11 item 14, design §10): git's verdict, against the trust files only.

Real keys and real signatures: ``ssh-keygen`` makes ed25519 keys without a passphrase, ``git
commit -S`` signs with them (SSH, and OpenPGP through ``gpg``), and :mod:`reconciler.bundle.trust`
asks git. A missing ``ssh-keygen`` or ``gpg`` fails these tests, never skips them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from reconciler.bundle import trust
from reconciler.bundle.trust import SignatureCheck, last_verified, verify_commit
from reconciler.config.inventory import load_inventory
from reconciler.errors import ConfigError, RevisionError
from reconciler.model.inventory import DEFAULT_ALLOWED_SIGNERS, VerifySpec
from tests.support.configrepo import ConfigRepo, inventory

SIGNERS = Path(DEFAULT_ALLOWED_SIGNERS)


@dataclass(frozen=True)
class Key:
    private: Path
    public: str  # "ssh-ed25519 AAAA... comment"
    fingerprint: str  # "SHA256:..."

    def signer_line(self, principal: str) -> str:
        return f"{principal} {self.public}\n"


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is missing (Debian: openssh-client / gnupg)", pytrace=False)
    return found


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Key]:
    ssh_keygen = _tool("ssh-keygen")
    folder = tmp_path_factory.mktemp("keys")
    made: dict[str, Key] = {}
    for name in ("alice", "mallory"):
        path = folder / name
        subprocess.run(
            [ssh_keygen, "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(path)], check=True
        )
        listed = subprocess.run(
            [ssh_keygen, "-l", "-f", str(path)], check=True, capture_output=True, text=True
        ).stdout.split()
        made[name] = Key(path, (folder / f"{name}.pub").read_text().strip(), listed[1])
    return made


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    trust.clear_cache()
    yield
    trust.clear_cache()


@pytest.fixture
def repo(tmp_path: Path, keys: dict[str, Key]) -> ConfigRepo:
    repo = ConfigRepo(tmp_path / "repo")
    repo.write(str(SIGNERS), keys["alice"].signer_line("alice@example.com"))
    return repo


def commit(repo: ConfigRepo, message: str, key: Key | None = None) -> str:
    """An empty commit, SSH-signed with ``key`` (unsigned when None)."""
    if key is None:
        repo.git("commit", "-q", "--allow-empty", "-m", message)
    else:
        repo.git(
            "-c",
            "gpg.format=ssh",
            "-c",
            f"user.signingkey={key.private}",
            "commit",
            "-q",
            "-S",
            "--allow-empty",
            "-m",
            message,
        )
    return repo.git("rev-parse", "HEAD").strip()


def plain_git_verifies(repo: ConfigRepo, sha: str, env: dict[str, str]) -> bool:
    """Whether git as the user runs it (their config, their keyring) verifies ``sha``."""
    proc = subprocess.run(
        ["git", "-C", str(repo.root), "verify-commit", sha], env=env, capture_output=True
    )
    return proc.returncode == 0


def tamper(repo: ConfigRepo, sha: str) -> str:
    """A copy of commit ``sha`` with its message edited and its signature kept."""
    body = repo.git("cat-file", "commit", sha)
    head, _, message = body.partition("\n\n")
    forged = subprocess.run(
        ["git", "-C", str(repo.root), "hash-object", "-t", "commit", "-w", "--stdin"],
        input=f"{head}\n\n{message.strip()}, then edited\n",
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert forged != sha
    return forged


# -- one commit ----------------------------------------------------------------------------


def test_signed_by_an_allowed_key_is_verified(repo: ConfigRepo, keys: dict[str, Key]) -> None:
    sha = commit(repo, "signed", keys["alice"])
    verdict = verify_commit(repo.root, sha, SIGNERS)
    assert verdict == SignatureCheck(
        sha, True, "", signer="alice@example.com", key=keys["alice"].fingerprint, method="ssh"
    )
    assert str(verdict) == f"{sha[:7]} verified: signed by alice@example.com ({verdict.key})"


def test_a_revision_name_is_resolved_to_its_commit(repo: ConfigRepo, keys: dict[str, Key]) -> None:
    sha = commit(repo, "signed", keys["alice"])
    assert verify_commit(repo.root, "HEAD", SIGNERS).sha == sha
    assert verify_commit(repo.root, "main", repo.root / SIGNERS).verified  # absolute, inside


def test_unsigned_commit_has_no_signature(repo: ConfigRepo) -> None:
    sha = commit(repo, "unsigned")
    verdict = verify_commit(repo.root, sha, SIGNERS)
    assert (verdict.verified, verdict.reason, verdict.signer, verdict.key) == (
        False,
        "no signature",
        None,
        None,
    )
    assert str(verdict) == f"{sha[:7]} unverified: no signature"


def test_signed_by_a_key_not_in_the_allowed_signers(repo: ConfigRepo, keys: dict[str, Key]) -> None:
    sha = commit(repo, "mallory", keys["mallory"])
    verdict = verify_commit(repo.root, sha, SIGNERS)
    assert not verdict.verified and verdict.signer is None
    assert (
        verdict.reason
        == f"signed by a key not in .reconciler-signers: {keys['mallory'].fingerprint}"
    )
    assert verdict.key == keys["mallory"].fingerprint  # an alert can say who signed


def test_a_tampered_commit_has_a_bad_signature(repo: ConfigRepo, keys: dict[str, Key]) -> None:
    forged = tamper(repo, commit(repo, "signed", keys["alice"]))
    verdict = verify_commit(repo.root, forged, SIGNERS)
    assert (verdict.verified, verdict.reason) == (False, "bad signature")


def test_a_key_outside_its_validity_is_not_verified(repo: ConfigRepo, keys: dict[str, Key]) -> None:
    # Commits are dated 2026-11-20 (ConfigRepo's T0); git judges SSH keys at commit time.
    line = f'alice@example.com valid-before="20200101" {keys["alice"].public}\n'
    repo.write(str(SIGNERS), line)
    sha = commit(repo, "signed", keys["alice"])
    verdict = verify_commit(repo.root, sha, SIGNERS)
    assert not verdict.verified and verdict.reason.startswith("signed by a key not in")


def test_an_allowed_signers_namespace_other_than_git_is_not_verified(
    repo: ConfigRepo, keys: dict[str, Key]
) -> None:
    line = f'alice@example.com namespaces="file" {keys["alice"].public}\n'
    repo.write(str(SIGNERS), line)
    sha = commit(repo, "signed", keys["alice"])
    verdict = verify_commit(repo.root, sha, SIGNERS)
    assert (verdict.verified, verdict.reason) == (
        False,
        "signed by a key that .reconciler-signers does not allow for git",
    )


def test_an_unknown_revision_is_a_revision_error(repo: ConfigRepo) -> None:
    commit(repo, "unsigned")
    with pytest.raises(RevisionError, match="unknown revision 'nope'"):
        verify_commit(repo.root, "nope", SIGNERS)
    with pytest.raises(RevisionError):
        verify_commit(repo.root, "0" * 40, SIGNERS)
    for rev in ("--output=x", "-1", ""):  # never an option of git's
        with pytest.raises(RevisionError):
            verify_commit(repo.root, rev, SIGNERS)
        with pytest.raises(RevisionError):
            last_verified(repo.root, rev, SIGNERS)
    assert not (repo.root / "x").exists()


# -- the trust files -----------------------------------------------------------------------


def test_allowed_signers_outside_the_repo_is_a_config_error(
    repo: ConfigRepo, keys: dict[str, Key], tmp_path: Path
) -> None:
    sha = commit(repo, "signed", keys["alice"])
    outside = tmp_path / "permissive-signers"
    outside.write_text(keys["alice"].signer_line("alice@example.com"))
    for path in (outside, Path("../permissive-signers")):
        with pytest.raises(ConfigError, match="outside the repo root"):
            verify_commit(repo.root, sha, path)
    # A symbolic link inside the repo that points out of it is outside it too.
    (repo.root / ".reconciler-signers").unlink()
    (repo.root / ".reconciler-signers").symlink_to(outside)
    with pytest.raises(ConfigError, match="outside the repo root") as info:
        verify_commit(repo.root, sha, SIGNERS)
    assert "\n" not in str(info.value)


def test_a_missing_or_odd_allowed_signers_file_is_a_config_error(repo: ConfigRepo) -> None:
    sha = commit(repo, "unsigned")
    with pytest.raises(ConfigError, match=r"^nothing-here: allowed_signers file does not exist$"):
        verify_commit(repo.root, sha, Path("nothing-here"))
    (repo.root / "folder").mkdir()
    with pytest.raises(ConfigError, match="not a regular file"):
        verify_commit(repo.root, sha, Path("folder"))
    (repo.root / "huge").write_bytes(b"#" * (trust.MAX_TRUST_FILE + 1))
    with pytest.raises(ConfigError, match="over 1 MiB"):
        verify_commit(repo.root, sha, Path("huge"))
    with pytest.raises(ConfigError, match="needs allowed_signers or openpgp_keyring"):
        verify_commit(repo.root, sha, None)


# -- trust comes from the files given, never from the user's configuration -----------------


def _home_trusting(tmp_path: Path, key: Key, **extra: str) -> dict[str, str]:
    """A user whose global git config names an allowed-signers file that trusts ``key``."""
    home = tmp_path / "home"
    home.mkdir()
    permissive = tmp_path / "everyone-signers"
    permissive.write_text(key.signer_line("*"))
    (home / ".gitconfig").write_text(
        f'[gpg "ssh"]\n\tallowedSignersFile = {permissive}\n'
        + "".join(f"{line}\n" for line in extra.values())
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_CONFIG")}
    env["HOME"] = str(home)
    return env


def test_the_users_global_git_config_does_not_widen_trust(
    repo: ConfigRepo, keys: dict[str, Key], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sha = commit(repo, "mallory", keys["mallory"])
    env = _home_trusting(tmp_path, keys["mallory"])
    assert plain_git_verifies(repo, sha, env)  # the user's own git would say good
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("GIT_CONFIG_GLOBAL", raising=False)
    verdict = verify_commit(repo.root, sha, SIGNERS)
    assert not verdict.verified
    assert verdict.reason.startswith("signed by a key not in .reconciler-signers")


def test_config_from_git_environment_variables_does_not_widen_trust(
    repo: ConfigRepo, keys: dict[str, Key], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sha = commit(repo, "mallory", keys["mallory"])
    permissive = tmp_path / "everyone-signers"
    permissive.write_text(keys["mallory"].signer_line("*"))
    injected = {
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "gpg.ssh.allowedSignersFile",
        "GIT_CONFIG_VALUE_0": str(permissive),
    }
    assert plain_git_verifies(repo, sha, {**os.environ, **injected})
    for name, value in injected.items():
        monkeypatch.setenv(name, value)
    assert not verify_commit(repo.root, sha, SIGNERS).verified


def test_a_verifier_program_named_in_git_config_is_not_used(
    repo: ConfigRepo, keys: dict[str, Key], tmp_path: Path
) -> None:
    sha = commit(repo, "mallory", keys["mallory"])
    liar = tmp_path / "always-good"
    liar.write_text(
        "#!/bin/sh\ncat >/dev/null\n"  # read what git pipes in, or git may see a broken pipe
        'case "$*" in *find-principals*) echo alice@example.com ;;\n'
        f'*) echo \'Good "git" signature for alice@example.com with ED25519 key '
        f"{keys['alice'].fingerprint}' ;;\nesac\n"
    )
    liar.chmod(0o755)
    repo.git("config", "gpg.ssh.program", str(liar))  # the repository's own .git/config
    env = dict(os.environ)
    assert (
        subprocess.run(
            [
                "git",
                "-C",
                str(repo.root),
                "-c",
                f"gpg.ssh.allowedSignersFile={repo.root / SIGNERS}",
                "verify-commit",
                sha,
            ],
            env=env,
            capture_output=True,
        ).returncode
        == 0
    )  # git with that config believes the liar
    verdict = verify_commit(repo.root, sha, SIGNERS)
    assert not verdict.verified and verdict.reason.startswith("signed by a key not in")


# -- the walk ------------------------------------------------------------------------------


def test_last_verified_skips_back_over_unverified_commits(
    repo: ConfigRepo, keys: dict[str, Key]
) -> None:
    commit(repo, "old, signed", keys["alice"])
    good = commit(repo, "signed", keys["alice"])
    unsigned = commit(repo, "unsigned")
    stranger = commit(repo, "mallory", keys["mallory"])
    verified, unverified = last_verified(repo.root, stranger, SIGNERS)
    assert verified == good
    assert unverified == [
        (stranger, f"signed by a key not in .reconciler-signers: {keys['mallory'].fingerprint}"),
        (unsigned, "no signature"),
    ]


def test_last_verified_is_the_desired_revision_when_it_verifies(
    repo: ConfigRepo, keys: dict[str, Key]
) -> None:
    commit(repo, "unsigned")
    tip = commit(repo, "signed", keys["alice"])
    assert last_verified(repo.root, "HEAD", SIGNERS) == (tip, [])


def test_last_verified_follows_first_parents_only(repo: ConfigRepo, keys: dict[str, Key]) -> None:
    base = commit(repo, "base, signed", keys["alice"])
    repo.git("checkout", "-q", "-b", "feature")
    commit(repo, "feature, signed", keys["alice"])  # verified, but not on main's line
    repo.git("checkout", "-q", "main")
    unsigned = commit(repo, "unsigned on main")
    repo.git("merge", "-q", "--no-ff", "--no-edit", "feature")
    merge = repo.git("rev-parse", "HEAD").strip()
    verified, unverified = last_verified(repo.root, merge, SIGNERS)
    assert verified == base
    assert [sha for sha, _ in unverified] == [merge, unsigned]


def test_last_verified_walks_a_bounded_number_of_commits(
    repo: ConfigRepo, keys: dict[str, Key]
) -> None:
    commit(repo, "signed", keys["alice"])
    unsigned = [commit(repo, f"unsigned {n}") for n in range(3)]
    assert trust.WALK_LIMIT == 200
    verified, unverified = last_verified(repo.root, "HEAD", SIGNERS, limit=2)
    assert verified is None
    assert unverified == [(unsigned[2], "no signature"), (unsigned[1], "no signature")]
    # With no verified commit in the whole history, every commit walked is listed.
    repo2 = ConfigRepo(repo.root.parent / "repo2")
    repo2.write(str(SIGNERS), keys["alice"].signer_line("alice@example.com"))
    only = commit(repo2, "unsigned")
    assert last_verified(repo2.root, only, SIGNERS) == (None, [(only, "no signature")])
    with pytest.raises(ValueError):
        last_verified(repo.root, "HEAD", SIGNERS, limit=0)


# -- the cache -----------------------------------------------------------------------------


def test_verdicts_are_cached_by_commit_and_allowed_signers_content(
    repo: ConfigRepo, keys: dict[str, Key], monkeypatch: pytest.MonkeyPatch
) -> None:
    sha = commit(repo, "mallory", keys["mallory"])
    first = verify_commit(repo.root, sha, SIGNERS)
    assert not first.verified

    real_run = subprocess.run
    runs: list[list[str]] = []

    def counting(args: list[str], *rest: object, **kwargs: object) -> object:
        runs.append(list(args))
        return real_run(args, *rest, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(trust.subprocess, "run", counting)
    assert verify_commit(repo.root, sha, SIGNERS) is first  # the same verdict, no git at all
    assert runs == []
    # A new allowed-signers file is judged afresh: mallory is now allowed.
    repo.write(
        str(SIGNERS),
        keys["alice"].signer_line("alice@example.com")
        + keys["mallory"].signer_line("mallory@example.com"),
    )
    again = verify_commit(repo.root, sha, SIGNERS)
    assert again.verified and again.signer == "mallory@example.com"
    assert any("verify-commit" in args for args in runs)


# -- the inventory key (design §5/§10) -----------------------------------------------------

FILE_TARGET = {"name": "pop-sin", "source": {"type": "file", "path": "fleet/pop-sin.json"}}


def _inventory_with(repo: ConfigRepo, verify: object) -> None:
    repo.write("targets/production.yaml", inventory([FILE_TARGET], verify=verify))


def test_the_inventory_names_the_trust_files(repo: ConfigRepo) -> None:
    _inventory_with(repo, {"allowed_signers": ".reconciler-signers"})
    loaded = load_inventory(repo.root, "production")
    assert loaded.verify == VerifySpec(allowed_signers=".reconciler-signers")
    _inventory_with(repo, {"allowed_signers": "trust/signers", "openpgp_keyring": "trust/k.asc"})
    assert load_inventory(repo.root, "production").verify == VerifySpec(
        allowed_signers="trust/signers", openpgp_keyring="trust/k.asc"
    )
    repo.write("targets/production.yaml", inventory([FILE_TARGET]))
    assert load_inventory(repo.root, "production").verify is None
    assert VerifySpec.default() == VerifySpec(allowed_signers=".reconciler-signers")


@pytest.mark.parametrize(
    ("verify", "message"),
    [
        ({"allowed_signers": "../../etc/signers"}, "escapes the repo root"),
        ({"allowed_signers": "/etc/ssh/allowed_signers"}, "must be relative to the repo root"),
        ({"openpgp_keyring": "keys/../../k.asc"}, "escapes the repo root"),
        ({"allowed_signers": "s", "keyring": "k"}, "unknown key 'verify.keyring'"),
        ({}, "verify: needs allowed_signers (SSH) or openpgp_keyring (OpenPGP)"),
        ({"allowed_signers": 7}, "verify.allowed_signers"),
    ],
)
def test_a_bad_verify_key_is_a_config_error(repo: ConfigRepo, verify: object, message: str) -> None:
    _inventory_with(repo, verify)
    with pytest.raises(ConfigError) as info:
        load_inventory(repo.root, "production")
    assert message in str(info.value)
    assert str(info.value).startswith("targets/production.yaml:")
    assert "\n" not in str(info.value)


def test_the_inventory_error_names_the_line(repo: ConfigRepo) -> None:
    text = inventory([FILE_TARGET], verify={"allowed_signers": "../signers"})
    repo.write("targets/production.yaml", text)
    line = next(n for n, row in enumerate(text.splitlines(), 1) if '"allowed_signers"' in row)
    with pytest.raises(ConfigError) as info:
        load_inventory(repo.root, "production")
    assert info.value.line == line
    assert json.loads(text)["verify"] == {"allowed_signers": "../signers"}


# -- OpenPGP ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PgpKey:
    home: Path  # the signer's own GNUPGHOME (holds the secret key)
    fingerprint: str
    armored: str  # the public key, as `gpg --export --armor` writes it


def _gpg(home: Path, *args: str, data: str | None = None) -> str:
    return subprocess.run(
        ["gpg", "--batch", "--no-tty", "--homedir", str(home), *args],
        input=data,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


@pytest.fixture(scope="module")
def pgp() -> Iterator[dict[str, PgpKey]]:
    _tool("gpg")
    made: dict[str, PgpKey] = {}
    homes: list[Path] = []
    try:
        for name in ("alice", "bob"):
            # Short paths: gpg-agent's socket lives in the home and a socket path is short.
            home = Path(tempfile.mkdtemp(prefix=f"gpg-{name}-"))
            homes.append(home)
            uid = f"{name.title()} <{name}@example.com>"
            _gpg(home, "--passphrase", "", "--quick-gen-key", uid, "ed25519", "sign", "never")
            colons = _gpg(home, "--with-colons", "--list-keys")
            fpr = next(line.split(":")[9] for line in colons.splitlines() if line.startswith("fpr"))
            made[name] = PgpKey(home, fpr, _gpg(home, "--armor", "--export", fpr))
        yield made
    finally:
        for home in homes:
            subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "all"], check=False)
            shutil.rmtree(home, ignore_errors=True)


def pgp_commit(repo: ConfigRepo, message: str, key: PgpKey) -> str:
    env = {**os.environ, "GNUPGHOME": str(key.home)}
    subprocess.run(
        [
            "git",
            "-C",
            str(repo.root),
            "-c",
            "user.name=Test",
            "-c",
            "user.email=t@example.com",
            "-c",
            "gpg.format=openpgp",
            "-c",
            f"user.signingkey={key.fingerprint}",
            "commit",
            "-q",
            "-S",
            "--allow-empty",
            "-m",
            message,
        ],
        env=env,
        check=True,
        capture_output=True,
    )
    return repo.git("rev-parse", "HEAD").strip()


def test_openpgp_signed_by_a_key_in_the_keyring_is_verified(
    repo: ConfigRepo, pgp: dict[str, PgpKey]
) -> None:
    repo.write("keys.asc", pgp["alice"].armored)
    sha = pgp_commit(repo, "signed", pgp["alice"])
    verdict = verify_commit(repo.root, sha, None, openpgp_keyring=Path("keys.asc"))
    assert verdict == SignatureCheck(
        sha,
        True,
        "",
        signer="Alice <alice@example.com>",
        key=pgp["alice"].fingerprint,
        method="openpgp",
    )
    both = verify_commit(repo.root, sha, SIGNERS, openpgp_keyring=Path("keys.asc"))
    assert both.verified


def test_openpgp_signed_by_a_key_not_in_the_keyring(
    repo: ConfigRepo, pgp: dict[str, PgpKey], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo.write("keys-bob.asc", pgp["bob"].armored)
    sha = pgp_commit(repo, "signed by alice", pgp["alice"])
    # The user's own keyring holds alice's key: their git says good; ours must not listen.
    assert plain_git_verifies(repo, sha, {**os.environ, "GNUPGHOME": str(pgp["alice"].home)})
    monkeypatch.setenv("GNUPGHOME", str(pgp["alice"].home))
    verdict = verify_commit(repo.root, sha, None, openpgp_keyring=Path("keys-bob.asc"))
    assert not verdict.verified
    assert verdict.reason.startswith("signed by a key not in keys-bob.asc")
    assert verdict.key is not None and pgp["alice"].fingerprint.endswith(verdict.key[-16:])


def test_openpgp_tampered_commit_has_a_bad_signature(
    repo: ConfigRepo, pgp: dict[str, PgpKey]
) -> None:
    repo.write("keys.asc", pgp["alice"].armored)
    forged = tamper(repo, pgp_commit(repo, "signed", pgp["alice"]))
    verdict = verify_commit(repo.root, forged, None, openpgp_keyring=Path("keys.asc"))
    assert (verdict.verified, verdict.reason, verdict.method) == (False, "bad signature", "openpgp")


def test_signatures_of_a_kind_no_file_covers_are_not_verified(
    repo: ConfigRepo, pgp: dict[str, PgpKey], keys: dict[str, Key]
) -> None:
    repo.write("keys.asc", pgp["alice"].armored)
    openpgp = pgp_commit(repo, "openpgp", pgp["alice"])
    verdict = verify_commit(repo.root, openpgp, SIGNERS)
    assert not verdict.verified
    assert verdict.reason == (
        "signed by a key not in .reconciler-signers: an OpenPGP signature, "
        "and verify names no openpgp_keyring"
    )
    ssh = commit(repo, "ssh", keys["alice"])
    verdict = verify_commit(repo.root, ssh, None, openpgp_keyring=Path("keys.asc"))
    assert (verdict.verified, verdict.reason) == (
        False,
        "signed with SSH, but verify names no allowed_signers",
    )
    # With both files, each kind is judged by its own.
    verified, unverified = last_verified(repo.root, ssh, SIGNERS, openpgp_keyring=Path("keys.asc"))
    assert (verified, unverified) == (ssh, [])


def test_an_unsigned_commit_needs_no_keyring(repo: ConfigRepo) -> None:
    repo.write("keys.asc", "this is no keyring\n")
    sha = commit(repo, "unsigned")
    # "no signature" is decided before gpg is asked, so a bad keyring is not yet an error.
    verdict = verify_commit(repo.root, sha, None, openpgp_keyring=Path("keys.asc"))
    assert verdict.reason == "no signature"


def test_a_keyring_gpg_cannot_import_fails_when_gpg_is_needed(
    repo: ConfigRepo, pgp: dict[str, PgpKey]
) -> None:
    repo.write("keys.asc", "this is no keyring\n")
    sha = pgp_commit(repo, "signed", pgp["alice"])
    with pytest.raises(
        ConfigError, match=r"^keys.asc: not an OpenPGP public keyring gpg can import"
    ):
        verify_commit(repo.root, sha, None, openpgp_keyring=Path("keys.asc"))


def test_verifying_leaves_no_gpg_agent_behind(repo: ConfigRepo, pgp: dict[str, PgpKey]) -> None:
    repo.write("keys.asc", pgp["alice"].armored)
    sha = pgp_commit(repo, "signed", pgp["alice"])
    assert verify_commit(repo.root, sha, None, openpgp_keyring=Path("keys.asc")).verified
    agents = subprocess.run(
        ["ps", "-eo", "args"], capture_output=True, text=True, check=True
    ).stdout
    assert "reconciler-trust-" not in agents


def test_when_git_cannot_verify_it_says_so_and_is_asked_again(
    repo: ConfigRepo, keys: dict[str, Key], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sha = commit(repo, "signed", keys["alice"])
    broken = tmp_path / "bin"
    broken.mkdir()
    (broken / "ssh-keygen").write_text("#!/bin/sh\necho 'ssh-keygen: out of order' >&2\nexit 255\n")
    (broken / "ssh-keygen").chmod(0o755)
    real_path = os.environ["PATH"]
    monkeypatch.setenv("PATH", f"{broken}{os.pathsep}{real_path}")
    verdict = verify_commit(repo.root, sha, SIGNERS)
    assert not verdict.verified
    assert verdict.reason.startswith("git could not verify: ")
    assert "\n" not in verdict.reason
    monkeypatch.setenv("PATH", real_path)  # repaired: not a remembered verdict
    assert verify_commit(repo.root, sha, SIGNERS).verified
