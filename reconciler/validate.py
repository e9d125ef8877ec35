"""``reconciler validate``: lint every bundle and inventory of the working tree, all at once.

Authors run it before they commit, so it reads the working tree, not git; it reports every
error it finds (not just the first), each as ``file:line: message``.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from pathlib import Path

from .config.inventory import environments, load_inventory
from .config.worktree import WorkTreeFiles
from .errors import ConfigError, ReconcilerError
from .model.inventory import Inventory
from .render import render


def validate_repo(root: Path) -> tuple[list[ReconcilerError], list[str]]:
    """Errors (each one line naming its file) and warnings of the whole repo."""
    errors: list[ReconcilerError] = []
    warnings: list[str] = []
    files = WorkTreeFiles(root)
    bundle_names = sorted(p.parent.name for p in (root / "bundles").glob("*/bundle.yaml"))
    if not bundle_names and not (root / "targets").is_dir():
        errors.append(ConfigError(f"{root}: no bundles/*/bundle.yaml and no targets/ folder"))
    for bundle in bundle_names:
        try:
            render(files, bundle, None)
        except ReconcilerError as exc:
            errors.append(exc)
            continue
        for overlay in sorted((root / "bundles" / bundle / "overlays").glob("*.yaml")):
            try:
                render(files, bundle, None, target=overlay.stem)
            except ReconcilerError as exc:
                errors.append(exc)
    inventories: list[Inventory] = []
    for env in environments(root):
        try:
            inventories.append(load_inventory(root, env))
        except ReconcilerError as exc:
            errors.append(exc)
    for inventory in inventories:
        rel = f"targets/{inventory.environment}.yaml"
        for bundle in inventory.bundles:
            if bundle not in bundle_names:
                errors.append(
                    ConfigError(f"bundle {bundle!r} has no bundles/{bundle}/bundle.yaml", file=rel)
                )
        names = [t.name for t in inventory.targets]
        for rule in inventory.ignore:
            if not any(rule.names_target(name) for name in names):
                warnings.append(f"{rel}: ignore rule ({rule.reason!r}) matches no target")
        for wave in inventory.rollout.waves:
            for pattern in wave.targets:
                if not any(fnmatchcase(name, pattern) for name in names):
                    warnings.append(f"{rel}: wave {wave.name!r}: {pattern!r} matches no target")
    known = {t.name for inv in inventories for t in inv.targets}
    for bundle in bundle_names:
        for overlay in sorted((root / "bundles" / bundle / "overlays").glob("*.yaml")):
            if inventories and overlay.stem not in known:
                warnings.append(
                    f"bundles/{bundle}/overlays/{overlay.name}: no target named {overlay.stem!r}"
                )
    return errors, warnings
