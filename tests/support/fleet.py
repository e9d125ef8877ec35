"""The small fleet the rollout and daemon tests share: two file targets, two HTTP targets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

#: Folders the file targets write into, under the repo (``fleet/`` is git-ignored).
FILE_TARGET_DIRS = ("canary", "pop")


def four_targets(base_url: str, health_url: str | None = None) -> list[dict[str, Any]]:
    """canary (file, optionally health-checked), eu and us (HTTP under ``base_url``), and a POP
    (file) that carries prompts only."""
    canary: dict[str, Any] = {
        "name": "canary",
        "kind": "region",
        "source": {"type": "file", "path": "fleet/canary/{bundle}.json"},
    }
    if health_url:
        canary["health"] = {"url": health_url, "timeout": "2s"}
    return [
        canary,
        _served(base_url, "eu"),
        _served(base_url, "us"),
        {
            "name": "pop",
            "kind": "pop",
            "carries": ["prompt/*"],
            "source": {"type": "file", "path": "fleet/pop/{bundle}.json"},
        },
    ]


def _served(base_url: str, name: str) -> dict[str, Any]:
    url = f"{base_url}{name}/{{bundle}}.json"
    return {"name": name, "kind": "region", "source": {"type": "http", "url": url}}


def make_fleet_dirs(root: Path) -> None:
    """Create the folders the file targets write into."""
    for name in FILE_TARGET_DIRS:
        (root / "fleet" / name).mkdir(parents=True, exist_ok=True)
