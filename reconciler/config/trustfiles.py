"""The trust files an inventory's ``verify:`` names must exist: a missing ``allowed_signers`` is
an error of the inventory (its file and line), found by ``validate`` as by every command that
verifies — never a pass that turns into "nothing verifies" at the first rollout."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ConfigError

if TYPE_CHECKING:
    from ..model.inventory import VerifySpec


def missing_trust_file(root: Path, environment: str, spec: VerifySpec) -> ConfigError | None:
    """The error for the first file ``spec`` names that is not a file in ``root`` (or None)."""
    rel = f"targets/{environment}.yaml"
    for key, name in (
        ("allowed_signers", spec.allowed_signers),
        ("openpgp_keyring", spec.openpgp_keyring),
    ):
        if name is not None and not (root / name).is_file():
            return ConfigError(
                f"verify.{key}: {name} does not exist (commit it, or fix the path)",
                file=rel,
                line=_line(root / rel, f"{key}:"),
            )
    return None


def _line(path: Path, needle: str) -> int | None:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return None
    return next((n for n, line in enumerate(text.splitlines(), 1) if needle in line), None)
