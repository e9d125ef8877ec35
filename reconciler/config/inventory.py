"""Loading ``targets/<environment>.yaml`` from the working tree."""

from __future__ import annotations

from pathlib import Path

from ..errors import ConfigError
from ..model.inventory import Inventory
from .yamlfile import load_cached


def environments(repo_root: Path) -> list[str]:
    """The environments the repo defines (one ``targets/<env>.yaml`` each)."""
    return sorted(p.stem for p in (repo_root / "targets").glob("*.yaml"))


def load_inventory(repo_root: Path, environment: str, cache: Path | None = None) -> Inventory:
    """The validated inventory of ``environment`` (``cache``: a folder for parsed inventories)."""
    rel = f"targets/{environment}.yaml"
    path = repo_root / rel
    if not path.is_file():
        have = ", ".join(environments(repo_root)) or "none"
        raise ConfigError(f"no such environment {environment!r} (environments: {have})", file=rel)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError("not valid UTF-8 text", file=rel) from None
    inventory = load_cached(Inventory, text, rel, cache)
    if inventory.environment != environment:
        raise ConfigError(
            f"environment is {inventory.environment!r} but the file is named {environment!r}",
            file=rel,
        )
    return inventory
