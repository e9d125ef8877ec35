"""``reconciler validate``: lint every bundle and inventory of the working tree, all at once.

Authors run it before they commit, so it reads the working tree, not git; it reports every
error it finds (not just the first), each as ``file:line: message``. It runs every static check
``audit`` does, the opening of each target's source included (without any I/O); a ``${VAR}``
that is not set here is a warning, since CI often validates without the secrets.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from fnmatch import fnmatchcase
from functools import cache
from pathlib import Path
from typing import Any

from ..bundle.render import render
from ..bundle.tiers import tiers as tier_names
from ..config import promotions
from ..config.inventory import environments, inventory_lines, load_inventory
from ..config.trustfiles import missing_trust_file
from ..config.worktree import WorkTreeFiles
from ..errors import ConfigError, ReconcilerError
from ..model.alerting import plain_secrets
from ..model.inventory import Inventory, TargetSpec
from ..model.manifests import check_manifest_key

_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
#: What an unset variable stands for while the source is opened: an error that every one of
#: them gives is the inventory's fault, not the missing variable's.
_STAND_INS = ("placeholder", "https://placeholder.invalid")


def validate_repo(
    root: Path, environ: Mapping[str, str] | None = None
) -> tuple[list[ReconcilerError], list[str]]:
    """Errors (each one line naming its file) and warnings of the whole repo.

    ``environ``: where ``${VAR}`` references are looked up (default: this process's environment).
    """
    environ = os.environ if environ is None else environ
    errors: list[ReconcilerError] = []
    warnings: list[str] = []
    files = WorkTreeFiles(root)
    bundle_names = sorted(p.parent.name for p in (root / "bundles").glob("*/bundle.yaml"))
    if not bundle_names and not (root / "targets").is_dir():
        errors.append(ConfigError(f"{root}: no bundles/*/bundle.yaml and no targets/ folder"))
    tiers: dict[str, list[str]] = {}  #: bundle -> its device tiers
    for bundle in bundle_names:
        try:
            tiers[bundle] = tier_names(render(files, bundle, None))
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
        _check_sources(root, inventory, environ, errors, warnings)
        errors += device_errors(inventory, tiers)
        errors += min_supported_errors(root, inventory)
        for number, alert in enumerate(inventory.alerts, start=1):
            for key in plain_secrets(alert):
                warnings.append(
                    f"{rel}: alert {number} ({alert.type}): {key} is not a ${{VAR}} reference; "
                    "secrets belong in the environment"
                )
        if inventory.verify is not None:
            missing = missing_trust_file(root, inventory.environment, inventory.verify)
            if missing is not None:
                errors.append(missing)
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
    if inventories:
        upstreams = {
            inv.environment: inv.promotion.from_ if inv.promotion else None for inv in inventories
        }
        errors += promotions.check(root, {env: upstreams.get(env) for env in environments(root)})
    known = {t.name for inv in inventories for t in inv.targets}
    for bundle in bundle_names:
        for overlay in sorted((root / "bundles" / bundle / "overlays").glob("*.yaml")):
            if inventories and overlay.stem not in known:
                warnings.append(
                    f"bundles/{bundle}/overlays/{overlay.name}: no target named {overlay.stem!r}"
                )
    return errors, warnings


def _check_sources(
    root: Path,
    inventory: Inventory,
    env: Mapping[str, str],
    errors: list[ReconcilerError],
    warnings: list[str],
) -> None:
    """Open every target's source as ``audit`` would (settings only, no I/O)."""
    rel = f"targets/{inventory.environment}.yaml"

    @cache
    def lines() -> dict[str, int]:  # the inventory is parsed again only when a line is needed
        return inventory_lines(root, inventory.environment)

    def line(target: str) -> int | None:
        return lines().get(target)

    users: dict[str, list[str]] = {}  #: unset variable -> the targets naming it
    for target in inventory.targets:
        unset = sorted({name for name in _variables(target) if name not in env})
        for name in unset:
            users.setdefault(name, []).append(target.name)
        error = _open_error(root, target, env, unset)
        if error is not None:
            errors.append(ConfigError(error.detail, file=rel, line=line(target.name)))
    for name, targets in users.items():  # one warning a variable, at its first target
        named = ", ".join(targets[:3]) + (
            f" and {len(targets) - 3} more" if len(targets) > 3 else ""
        )
        warnings.append(
            f"{rel}:{line(targets[0])}: target{'s' if len(targets) > 1 else ''} {named}: "
            f"environment variable {name} is not set (audit will fail until it is)"
        )


def _variables(target: TargetSpec) -> Iterator[str]:
    """Every ``${NAME}`` a target's source, health check, probe and outputs refer to."""
    settings = target.model_dump(include={"source", "health", "probe", "outputs"})
    for text in _strings(settings):
        yield from _VARIABLE.findall(text)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _open_error(
    root: Path, target: TargetSpec, env: Mapping[str, str], unset: list[str]
) -> ConfigError | None:
    """The ConfigError opening ``target``'s sources gives, whatever its unset variables hold."""
    from ..sources.manifests import manifest_part
    from ..sources.registry import SourceContext, open_source

    specs = [target]
    if target.is_devices():  # its manifests are written through sources of their own
        specs = [manifest_part(target, "b", c, "t") for c in target.channels]
    if target.probe is not None:  # the audit reads a probe as an http source of its own
        specs.append(target.model_copy(update={"source": target.probe.as_source(), "health": None}))
    first: ConfigError | None = None
    for stand_in in _STAND_INS if unset else ("",):
        filled: Mapping[str, str] = {**env, **dict.fromkeys(unset, stand_in)} if unset else env
        ctx = SourceContext(repo_root=root, env=filled)
        try:
            for spec in specs:
                open_source(spec, ctx)
        except ConfigError as exc:
            first = first or exc
            continue
        return None  # it opens with some value of the unset variables: the warning says it
    return first


def device_errors(inventory: Inventory, tiers: Mapping[str, list[str]]) -> list[ConfigError]:
    """A devices target needs device tiers in each of its bundles, and a manifest key that
    keeps their manifests apart (``{tier}`` when there are several)."""
    rel = f"targets/{inventory.environment}.yaml"
    errors = []
    for target in inventory.targets:
        if not target.is_devices():
            continue
        for bundle in inventory.bundles:
            if bundle not in tiers:
                continue  # the bundle's own error says why
            if not tiers[bundle]:
                errors.append(
                    ConfigError(
                        f"target {target.name}: a devices target needs device tiers, and "
                        f"bundle {bundle!r} has no model.variants",
                        file=rel,
                    )
                )
                continue
            why = check_manifest_key(target.manifest_template(), tiers[bundle])
            if why is not None:
                errors.append(ConfigError(f"target {target.name}: {why}", file=rel))
    return errors


def min_supported_errors(root: Path, inventory: Inventory) -> list[ConfigError]:
    """A devices target's ``min_supported`` must name a revision of the repo (the audit reads
    what is older than it): one line per target whose revision git does not know."""
    from ..bundle.gitrepo import repo_at

    rel = f"targets/{inventory.environment}.yaml"
    named = [t for t in inventory.targets if t.is_devices() and t.min_supported]
    if not named:
        return []
    try:
        repo = repo_at(root)
    except ReconcilerError:
        return []  # not a git repository: no revision to check against
    errors = []
    for target in named:
        try:
            repo.commit(str(target.min_supported))
        except ReconcilerError as exc:
            errors.append(
                ConfigError(
                    f"target {target.name}: min_supported {target.min_supported!r}: {exc}",
                    file=rel,
                )
            )
    return errors
