"""Count what a run does, passing every call through: the inventory reads of environment runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from reconciler import environment


def inventory_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every read of an inventory by an environment run from now on (the environment's name)."""
    read: list[str] = []
    original = environment.load_inventory

    def counted(repo_root: Path, name: str, *args: Any, **kwargs: Any) -> Any:
        read.append(name)
        return original(repo_root, name, *args, **kwargs)

    monkeypatch.setattr(environment, "load_inventory", counted)
    return read
