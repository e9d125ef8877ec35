"""Count what a run does, passing every call through: the inventory reads of environment runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import reconciler.config.inventory as inventories
from reconciler import environment


def inventory_reads(monkeypatch: pytest.MonkeyPatch, *, anywhere: bool = False) -> list[str]:
    """Every read of an inventory by an environment run from now on (the environment's name);
    ``anywhere``: every other read through :mod:`reconciler.config.inventory` too."""
    read: list[str] = []
    original = inventories.load_inventory

    def counted(repo_root: Path, name: str, *args: Any, **kwargs: Any) -> Any:
        read.append(name)
        return original(repo_root, name, *args, **kwargs)

    monkeypatch.setattr(environment, "load_inventory", counted)
    if anywhere:
        monkeypatch.setattr(inventories, "load_inventory", counted)
    return read
