"""Signed revisions (design §10, like Flux's ``verify``): which commits may be applied.

With ``verify:`` in the inventory (or ``--verify-signatures``), only a revision whose commit
signature git verifies against the allowed signers is applied. This module answers two
questions, by asking git and nothing else:

- :func:`verify_commit`: is this one commit signed by a key the trust files name?
- :func:`last_verified`: walking back from the desired revision, which commit is the newest
  one that is (the revision that stays desired while newer commits are unverified)?

**Git decides.** A commit is verified only when ``git verify-commit`` exits 0 *and* git's own
``%G?`` for it is ``G`` (a good signature by a trusted key); every other outcome is a
:class:`Verdict` with ``verified=False`` and a one-line reason. For SSH, git asks
``ssh-keygen -Y find-principals`` for the principal the allowed-signers file gives the signing
key, then ``ssh-keygen -Y verify`` with that principal and the ``git`` namespace, at the
commit's committer time (so ``valid-after``/``valid-before`` in the file are judged at that
time). For OpenPGP, git runs ``gpg --verify`` in a keyring that holds exactly the keys of
``openpgp_keyring``, each trusted ultimately, and nothing else.

**Only the files given are trusted.** Every git process here runs with:

- the trust files passed on the command line (``-c gpg.ssh.allowedSignersFile=<copy>``), and
  ``gpg.ssh.program``/``gpg.program`` pinned to ``ssh-keygen``/``gpg`` from ``PATH``;
- no system or global git config (``GIT_CONFIG_NOSYSTEM=1``, ``GIT_CONFIG_GLOBAL=/dev/null``),
  ``HOME`` and ``XDG_CONFIG_HOME`` pointing into an empty private folder (for a git older
  than 2.32, which ignores ``GIT_CONFIG_GLOBAL``), and no inherited ``GIT_*`` variable (which
  could name another repository or inject config: ``GIT_CONFIG_COUNT``...);
- ``GNUPGHOME`` in that private folder: the user's own keyring never vouches for a commit.

So neither a user's ``~/.gitconfig`` naming a permissive allowed-signers file nor their GnuPG
keyring widens the trust. The repository's own ``.git/config`` is still read (git offers no
switch to skip it), but the settings that decide trust are overridden on the command line.

Git and gpg read a private copy of the trust files, the same bytes whose digest keys the cache,
so a file changing mid-check cannot split the two. A commit whose signature is of a kind no
given file covers (an OpenPGP signature with only ``allowed_signers``, an X.509 one always) is
refused before git or gpg is asked.

**Caching.** Definite verdicts are remembered for the life of the process, keyed by the commit
and the digest of the trust files' contents (a commit's signature never changes; a changed
allowed-signers file is judged afresh). "git could not verify" is never cached. An OpenPGP key
that expires or is revoked after a commit verified does not un-verify that commit within one
process (as SSH signatures are judged at the commit's time).

**Where the trust files come from is the caller's business, and it matters.** They must come
from somewhere the commits being judged cannot change: the operator's checkout (``--repo``),
never a checkout of the unverified revision itself (or an unsigned commit could name its own
key). Only the commit's own signature is checked, not its ancestors': a verified commit vouches
for its whole tree, as in Flux and Argo CD.

Runs ``git`` through :func:`reconciler.bundle.gitrepo.git` (and, for OpenPGP, ``gpg`` in its
sandbox); imports neither GitPython nor anything of the CLI.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..errors import ConfigError, ReconcilerError, RevisionError
from ..revisions import SHORT
from .gitrepo import GitMissing, git
from .sandbox import MAX_TRUST_FILE as MAX_TRUST_FILE
from .sandbox import TIMEOUT, PrivateHome, last_line, read_trust_file

#: Most first-parent commits :func:`last_verified` examines before it gives up.
WALK_LIMIT = 200

#: Verdicts remembered per process before the cache starts afresh (a bound, not a policy).
CACHE_SIZE = 4096

Method = Literal["ssh", "openpgp"]

_SIG_HEADERS = (b"gpgsig ", b"gpgsig-sha256 ")
_KINDS: dict[bytes, str] = {
    b"-----BEGIN SSH SIGNATURE-----": "ssh",
    b"-----BEGIN PGP SIGNATURE-----": "openpgp",
    b"-----BEGIN SIGNED MESSAGE-----": "x509",
}
#: git's ``%G?`` codes from gpg's own status lines (definite answers), with their reason.
_ANSWERS = {
    "X": "the signature has expired",
    "Y": "signed by an expired key",
    "R": "signed by a revoked key",
}


@dataclass(frozen=True)
class Verdict:
    """Git's judgement of one commit's signature.

    ``verified``: git verified it against the trust files. ``reason``: one line saying why
    not (empty when verified), e.g. ``no signature``, ``signed by a key not in
    .reconciler-signers: SHA256:...``, ``bad signature``, ``git could not verify: ...``.
    ``signer``: the allowed-signers principal (SSH) or the key's user id (OpenPGP), set only
    when verified. ``key``: the signing key's fingerprint (``SHA256:...`` for SSH, hex for
    OpenPGP) whenever git reported one, verified or not, so an alert can say who signed.
    ``method``: the kind of signature, when there is one git was asked about.
    """

    sha: str
    verified: bool
    reason: str = ""
    signer: str | None = None
    key: str | None = None
    method: Method | None = None

    def __str__(self) -> str:
        if self.verified:
            return f"{self.sha[:SHORT]} verified: signed by {self.signer} ({self.key})"
        return f"{self.sha[:SHORT]} unverified: {self.reason}"


def verify_commit(
    repo_root: Path,
    sha: str,
    allowed_signers: Path | None,
    *,
    openpgp_keyring: Path | None = None,
) -> Verdict:
    """Git's verdict on the signature of commit ``sha`` of the repository at ``repo_root``.

    ``allowed_signers`` (SSH) and ``openpgp_keyring`` (OpenPGP): paths relative to
    ``repo_root`` (or absolute), which must resolve, symbolic links followed, to regular files
    inside it; at least one is given. A path outside the repo, a missing file, a file over
    :data:`MAX_TRUST_FILE` or a keyring gpg cannot import is a :class:`ConfigError`; an unknown
    commit a :class:`RevisionError`; a missing ``ssh-keygen`` or ``gpg`` a
    :class:`ReconcilerError`. Anything else about the commit is a verdict, never an exception.
    """
    with _Checker(repo_root, allowed_signers, openpgp_keyring) as checker:
        return checker.verdict(sha)


def last_verified(
    repo_root: Path,
    desired_sha: str,
    allowed_signers: Path | None,
    *,
    openpgp_keyring: Path | None = None,
    limit: int = WALK_LIMIT,
    trust_root: Path | None = None,
) -> tuple[str | None, list[tuple[str, str]]]:
    """The newest verified commit on the first-parent history of ``desired_sha``, and the
    newer ones that are not.

    Walks ``git rev-list --first-parent`` from ``desired_sha`` (inclusive) back, newest
    first, and stops at the first commit :func:`verify_commit` verifies. Returns that
    commit's full sha (``desired_sha`` itself, resolved, when it verifies) and the unverified
    commits walked over, newest first, each with its reason. The walk examines at most
    ``limit`` commits (:data:`WALK_LIMIT` by default): ``(None, unverified)`` means no commit
    verified within the bound — the history has fewer commits than ``limit`` when
    ``len(unverified) < limit``, else the bound stopped the walk. Errors as
    :func:`verify_commit`.
    """
    if limit < 1:
        raise ValueError("limit must be at least 1")
    unverified: list[tuple[str, str]] = []
    # ``trust_root``: where the trust files live, when that is not the repository judged (the
    # daemon judges its own clone by the operator's checkout: an unsigned commit at the tip
    # must never be able to change who is trusted).
    with _Checker(repo_root, allowed_signers, openpgp_keyring, trust_root) as checker:
        for sha in checker.first_parents(desired_sha, limit):
            verdict = checker.verdict(sha)
            if verdict.verified:
                return sha, unverified
            unverified.append((sha, verdict.reason))
    return None, unverified


def clear_cache() -> None:
    """Forget every remembered verdict (tests; a long-lived process never needs it)."""
    _CACHE.clear()


# -- internals ---------------------------------------------------------------------------

_CACHE: dict[tuple[str, str], Verdict] = {}
_FULL_SHA = re.compile(r"[0-9a-fA-F]{40}|[0-9a-fA-F]{64}")


class _Checker:
    """One private folder (HOME, GNUPGHOME, copies of the trust files) for a run of checks."""

    def __init__(
        self,
        repo_root: Path,
        allowed_signers: Path | None,
        openpgp_keyring: Path | None,
        trust_root: Path | None = None,
    ) -> None:
        if allowed_signers is None and openpgp_keyring is None:
            raise ConfigError("signature verification needs allowed_signers or openpgp_keyring")
        self.root = repo_root.resolve()
        anchor = (trust_root or repo_root).resolve()
        self.signers = read_trust_file(anchor, allowed_signers, "allowed_signers")
        self.keyring = read_trust_file(anchor, openpgp_keyring, "openpgp_keyring")
        digest = hashlib.sha256()
        for part in (self.signers, self.keyring):
            digest.update(b"-" if part is None else hashlib.sha256(part.data).digest())
        self.trust_key = digest.hexdigest()
        self.home = PrivateHome(self.signers, self.keyring)

    def __enter__(self) -> _Checker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.home.close()

    # -- the walk -----------------------------------------------------------------------

    def first_parents(self, rev: str, limit: int) -> list[str]:
        _check_rev(rev)
        proc = self._git(
            ["rev-list", "--first-parent", f"--max-count={limit}", f"{rev}^{{commit}}", "--"]
        )
        if proc.returncode != 0:
            raise RevisionError(f"unknown revision {rev!r}")
        return proc.stdout.decode().split()

    # -- one commit ---------------------------------------------------------------------

    def verdict(self, sha: str) -> Verdict:
        if _FULL_SHA.fullmatch(sha):  # a full sha names one object: no git needed to look up
            cached = _CACHE.get((sha.lower(), self.trust_key))
            if cached is not None:
                return cached
        full, raw = self._commit(sha)
        cached = _CACHE.get((full, self.trust_key))
        if cached is not None:
            return cached
        verdict, definite = self._judge(full, raw)
        if definite:
            if len(_CACHE) >= CACHE_SIZE:
                _CACHE.clear()
            _CACHE[(full, self.trust_key)] = verdict
        return verdict

    def _commit(self, rev: str) -> tuple[str, bytes]:
        """The full sha and raw object of commit ``rev``."""
        _check_rev(rev)
        proc = self._git(["rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"])
        full = proc.stdout.decode().strip()
        if proc.returncode != 0 or not full:
            raise RevisionError(f"unknown revision {rev!r}")
        body = self._git(["cat-file", "commit", full])
        if body.returncode != 0:
            raise RevisionError(f"commit {full[:SHORT]} could not be read: {last_line(body)}")
        return full, body.stdout

    def _judge(self, sha: str, raw: bytes) -> tuple[Verdict, bool]:
        """The verdict and whether it is definite (worth remembering)."""
        kind = _signature_kind(raw)
        if kind is None:
            return Verdict(sha, False, "no signature"), True
        if kind == "x509":
            return Verdict(sha, False, "signed with X.509 (gpgsm), which is not accepted"), True
        if kind == "unknown":
            return Verdict(sha, False, "signed in a format git cannot verify"), True
        if kind == "ssh" and self.signers is None:
            return Verdict(sha, False, "signed with SSH, but verify names no allowed_signers"), True
        if kind == "openpgp" and self.keyring is None:
            assert self.signers is not None
            reason = (
                f"signed by a key not in {self.signers.label}: an OpenPGP signature, "
                "and verify names no openpgp_keyring"
            )
            return Verdict(sha, False, reason), True
        method: Method = "ssh" if kind == "ssh" else "openpgp"
        file = self.signers if method == "ssh" else self.keyring
        assert file is not None
        if method == "openpgp":
            self.home.gpg_ready()
        shown = self._git(["show", "-s", "--format=%G?%x00%GK%x00%GS%x00%GF", sha])
        checked = self._git(["verify-commit", "--raw", sha])
        said = (checked.stderr + checked.stdout).decode(errors="replace")  # ssh-keygen's, gpg's
        fields = shown.stdout.decode(errors="replace").rstrip("\n").split("\0")
        if shown.returncode != 0 or len(fields) != 4:
            return self._unsure(sha, method, shown), False
        code, key_id, signer, fingerprint = fields
        key = fingerprint or key_id or None
        if code == "G" and checked.returncode == 0:
            return Verdict(sha, True, signer=signer or key, key=key, method=method), True
        if code == "G":  # git's two answers disagree: trust neither
            return self._unsure(sha, method, checked, key), False
        if code == "U" or (code == "E" and method == "openpgp"):
            # SSH: a good signature whose key no principal has (U). OpenPGP: a key the
            # keyring lacks (E), or holds without trust (U: cannot happen, all are trusted).
            reason = f"signed by a key not in {file.label}"
            definite = ("No principal matched" if method == "ssh" else "NO_PUBKEY") in said
            return Verdict(
                sha, False, f"{reason}: {key}" if key else reason, key=key, method=method
            ), definite
        if code == "B":
            # Git says B for whatever ssh-keygen did not call good, a verifier that failed to
            # run included: only its own words make it a bad signature.
            if "not permitted for use in signature namespace" in said:
                reason = f"signed by a key that {file.label} does not allow for git"
                return Verdict(
                    sha, False, f"{reason}: {key}" if key else reason, key=key, method=method
                ), True
            if "incorrect signature" in said or "[GNUPG:] BADSIG" in said:
                return Verdict(sha, False, "bad signature", key=key, method=method), True
            return self._unsure(sha, method, checked, key), False
        if code in _ANSWERS:
            return Verdict(sha, False, _ANSWERS[code], key=key, method=method), True
        return self._unsure(sha, method, checked, key), False

    def _unsure(
        self,
        sha: str,
        method: Method,
        proc: subprocess.CompletedProcess[bytes],
        key: str | None = None,
    ) -> Verdict:
        return Verdict(
            sha, False, f"git could not verify: {last_line(proc)}", key=key, method=method
        )

    # -- processes ----------------------------------------------------------------------

    def _git(self, args: list[str]) -> subprocess.CompletedProcess[bytes]:
        home = self.home.path()
        config = ["-c", "gpg.ssh.program=ssh-keygen", "-c", "gpg.program=gpg"]
        if self.signers is not None:
            config += ["-c", f"gpg.ssh.allowedSignersFile={home / 'allowed_signers'}"]
        try:
            return git(self.root, *config, *args, env=self.home.env(), timeout=TIMEOUT)
        except GitMissing:
            raise ReconcilerError("signature verification needs git on PATH") from None


def _check_rev(rev: str) -> None:
    """A revision git cannot take for an option (``--output=...``) or an empty one."""
    if not rev or rev.startswith("-") or "\0" in rev:
        raise RevisionError(f"unknown revision {rev!r}")


def _signature_kind(raw: bytes) -> str | None:
    """``ssh``, ``openpgp``, ``x509``, ``unknown``, or None: the kind of a commit's signature."""
    header, _, _ = raw.partition(b"\n\n")
    for line in header.split(b"\n"):
        if line.startswith(_SIG_HEADERS):
            first = line.split(b" ", 1)[1].strip()
            return _KINDS.get(first, "unknown")
    return None
