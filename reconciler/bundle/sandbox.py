"""The private folder signatures are verified in (:mod:`reconciler.bundle.trust`).

The trust files are read once, safely (a regular file inside the repo root, size-capped, no
FIFO), and git and gpg then see only copies of those bytes: ``HOME``, ``XDG_CONFIG_HOME`` and
``GNUPGHOME`` point into a temporary folder, no ``GIT_*`` or ``GNUPG*`` variable is inherited,
and the OpenPGP keyring is imported there with every key trusted ultimately and nothing else.
The folder is made on first use and removed (with any gpg-agent started in it) on close.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError, ReconcilerError
from ..limits import MiB

#: Largest allowed-signers file or OpenPGP keyring read (a few hundred keys take a few KiB).
MAX_TRUST_FILE = 1 * MiB

#: Seconds one git or gpg process may take (each runs ssh-keygen or gpg once or twice).
TIMEOUT = 30.0


@dataclass(frozen=True)
class TrustFile:
    label: str  # as people name it: relative to the repo root
    data: bytes


def read_trust_file(root: Path, path: Path | None, what: str) -> TrustFile | None:
    """The bytes of a trust file that resolves to a regular file inside ``root``."""
    if path is None:
        return None
    full = path if path.is_absolute() else root / path
    try:
        label = full.relative_to(root).as_posix()
    except ValueError:
        label = str(path)
    real = full.resolve()  # symbolic links followed: a link out of the repo is outside it
    if not real.is_relative_to(root):
        raise ConfigError(f"{what} {label!r} is outside the repo root {root}", file=None)
    try:
        info = real.stat()
    except OSError:
        raise ConfigError(f"{what} file does not exist", file=label) from None
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError(f"{what} is not a regular file", file=label)
    if info.st_size > MAX_TRUST_FILE:
        raise ConfigError(f"{what} is over {MAX_TRUST_FILE // MiB} MiB", file=label)
    try:
        fd = os.open(real, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        with os.fdopen(fd, "rb") as handle:
            data = handle.read(MAX_TRUST_FILE + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read {what}: {exc.strerror}", file=label) from None
    if len(data) > MAX_TRUST_FILE:
        raise ConfigError(f"{what} is over {MAX_TRUST_FILE // MiB} MiB", file=label)
    return TrustFile(label, data)


class PrivateHome:
    """HOME, GNUPGHOME and copies of the trust files for one run of checks."""

    def __init__(self, signers: TrustFile | None, keyring: TrustFile | None) -> None:
        self.signers = signers
        self.keyring = keyring
        self._home: Path | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._gpg_imported = False

    def path(self) -> Path:
        """The folder, made on first use (with the allowed-signers copy, if there is one)."""
        if self._home is not None:
            return self._home
        self._tmp = tempfile.TemporaryDirectory(prefix="reconciler-trust-")
        home = Path(self._tmp.name)
        gnupg = home / "gnupg"
        gnupg.mkdir(mode=0o700)
        # Never start a gpg-agent (verifying needs none) nor fetch keys from anywhere.
        (gnupg / "gpg.conf").write_text("no-autostart\n")
        (home / ".config").mkdir()
        self._home = home
        if self.signers is not None:
            if shutil.which("ssh-keygen") is None:
                raise ReconcilerError(
                    "SSH signature verification needs ssh-keygen (Debian: openssh-client)"
                )
            (home / "allowed_signers").write_bytes(self.signers.data)
        return home

    def env(self) -> dict[str, str]:
        """The environment of every git and gpg process: nothing of the user's configuration."""
        home = self.path()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "GNUPG"))}
        env.update(
            GIT_CONFIG_NOSYSTEM="1",
            GIT_CONFIG_GLOBAL=os.devnull,
            GIT_TERMINAL_PROMPT="0",
            HOME=str(home),
            XDG_CONFIG_HOME=str(home / ".config"),
            GNUPGHOME=str(home / "gnupg"),
            LC_ALL="C",
        )
        env.pop("LANGUAGE", None)
        return env

    def gpg_ready(self) -> None:
        """Import the keyring into the private GNUPGHOME (once), every key trusted."""
        if self._gpg_imported:
            return
        keyring = self.keyring
        assert keyring is not None
        if shutil.which("gpg") is None:
            raise ReconcilerError("OpenPGP signature verification needs gpg (Debian: gnupg)")
        home = self.path()
        (home / "keyring").write_bytes(keyring.data)
        base = ["gpg", "--batch", "--no-tty", "--quiet", "--homedir", str(home / "gnupg")]
        imported = self._gpg([*base, "--import", str(home / "keyring")])
        listed = self._gpg([*base, "--with-colons", "--list-keys"])
        fingerprints = primary_fingerprints(listed.stdout.decode(errors="replace"))
        if imported.returncode != 0 or not fingerprints:
            raise ConfigError(
                f"not an OpenPGP public keyring gpg can import: {last_line(imported)}",
                file=keyring.label,
            )
        trust = "".join(f"{fpr}:6:\n" for fpr in fingerprints).encode()  # 6: ultimate
        owned = self._gpg([*base, "--import-ownertrust"], trust)
        if owned.returncode != 0:
            raise ReconcilerError(f"gpg could not trust {keyring.label}: {last_line(owned)}")
        self._gpg_imported = True

    def close(self) -> None:
        """Remove the folder, stopping any agent gpg started in it despite ``no-autostart``."""
        if self._tmp is None:
            return
        gnupg = Path(self._tmp.name) / "gnupg"
        if self._gpg_imported and shutil.which("gpgconf") and any(gnupg.glob("S.*")):
            subprocess.run(
                ["gpgconf", "--homedir", str(gnupg), "--kill", "all"],
                capture_output=True,
                timeout=TIMEOUT,
                check=False,
            )
        self._tmp.cleanup()

    def _gpg(
        self, command: list[str], data: bytes | None = None
    ) -> subprocess.CompletedProcess[bytes]:
        try:
            return subprocess.run(
                command, input=data, env=self.env(), capture_output=True, timeout=TIMEOUT,
                check=False,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            raise ReconcilerError(f"gpg took over {TIMEOUT:.0f}s") from None


def primary_fingerprints(colons: str) -> list[str]:
    """The fingerprint of each primary key in ``gpg --with-colons --list-keys`` output."""
    found: list[str] = []
    primary = False
    for line in colons.splitlines():
        fields = line.split(":")
        if fields[0] == "pub":
            primary = True
        elif fields[0] == "fpr" and primary and len(fields) > 9:
            found.append(fields[9])
            primary = False
        elif fields[0] in ("sub", "uid"):
            primary = False
    return found


def last_line(proc: subprocess.CompletedProcess[bytes]) -> str:
    """The last non-empty line git or gpg wrote (stderr first), for a one-line reason."""
    for stream in (proc.stderr, proc.stdout):
        text = stream.decode(errors="replace") if isinstance(stream, bytes) else str(stream or "")
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        if lines:
            return lines[-1].removeprefix("error: ")
    return f"exit status {proc.returncode}"
