"""Loading ``targets/<environment>.yaml`` from the working tree."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, cast

from .. import secrets
from ..errors import ConfigError
from ..limits import MAX_YAML
from ..model.names import check_name
from .modelcache import load_cached, load_cached_data
from .yamlfile import check_size

if TYPE_CHECKING:
    from ..model.inventory import Inventory


def environments(repo_root: Path) -> list[str]:
    """The environments the repo defines (one ``targets/<env>.yaml`` each)."""
    return sorted(p.stem for p in (repo_root / "targets").glob("*.yaml"))


def check_environment(environment: str) -> str:
    """An environment name is a plain name (it becomes a file name and a state key)."""
    try:
        return check_name(environment, "environment")
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def load_inventory(
    repo_root: Path, environment: str, cache: Path | None = None, *, plain: bool = False
) -> Inventory:
    """The validated inventory of ``environment`` (``cache``: a folder for parsed inventories).

    ``plain``: as read-only plain objects with the model's attributes and methods
    (:mod:`reconciler.model.plain`), read from the cache without pydantic when this text was
    validated before: for commands that only read the inventory, where the model's import would
    cost more than the audit's first thousand requests.
    """
    check_environment(environment)  # before any file is read: "../bundles/x/bundle" is no name
    rel = f"targets/{environment}.yaml"
    text = _read(repo_root, rel)
    if text is None:
        have = ", ".join(environments(repo_root)) or "none"
        raise ConfigError(f"no such environment {environment!r} (environments: {have})", file=rel)
    if plain:
        from ..model.plain import plain_inventory

        data = load_cached_data(_model, "Inventory", text, rel, cache)
        inventory = cast("Inventory", plain_inventory(data))
    else:
        inventory = load_cached(_model(), text, rel, cache)
    if inventory.environment != environment:
        raise ConfigError(
            f"environment is {inventory.environment!r} but the file is named {environment!r}",
            file=rel,
        )
    remember_secrets(inventory, text, os.environ)
    return inventory


def _model() -> type[Inventory]:
    from ..model.inventory import Inventory

    return Inventory


#: A ``${NAME}`` reference, wherever it is written in an inventory.
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def remember_secrets(inventory: Inventory, text: str, env: Mapping[str, str]) -> None:
    """Remember, up front, every secret the inventory names (design §11): the value of each
    ``${VAR}`` it refers to that is set, and each webhook URL whole (once its variables are set).

    Outputs are then scrubbed even when a command never opens the target that uses them (a
    ``rollout status`` reading state, a ``diff`` of another target). One scan of the file's text.
    """
    if "${" in text:
        for name in set(_VARIABLE.findall(text)):
            secrets.remember(env.get(name))
    for alert in inventory.alerts:
        for written in (alert.routing_key, alert.token, alert.secret):
            if written is not None and "${" not in written:  # a secret written in the file
                secrets.remember(written)
        if alert.url is None:
            continue
        url = _VARIABLE.sub(lambda m: env.get(m.group(1), m.group(0)), alert.url)
        if "${" not in url:  # an unset variable: nothing to remember but the template
            secrets.remember_url(url)


def _read(repo_root: Path, rel: str) -> str | None:
    """The text of ``rel`` (None when it is not a regular file), at most :data:`MAX_YAML`."""
    path = repo_root / rel
    try:
        info = path.stat()
    except OSError:
        return None
    if not stat.S_ISREG(info.st_mode):
        return None
    # Refuse a huge file before reading it, then read no more than the cap allows (it may grow).
    check_size(info.st_size, MAX_YAML, rel)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        with os.fdopen(fd, "rb") as handle:
            raw = handle.read(MAX_YAML + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", file=rel) from None
    check_size(raw, MAX_YAML, rel)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError("not valid UTF-8 text", file=rel) from None


def target_lines(text: str, file: str) -> dict[str, int]:
    """The line naming each target in an inventory's text (for messages and annotations).

    Parsed again only when something needs a line; an inventory that does not parse (it was
    changed since it was loaded) maps nothing.
    """
    from .yamlfile import parse

    try:
        root = parse(text, file)
    except ConfigError:
        return {}
    targets = root.get("targets") if isinstance(root, dict) else None
    if not isinstance(targets, list) or not hasattr(targets, "lc"):
        return {}
    lines: dict[str, int] = {}
    for entry in targets:
        where = getattr(entry, "lc", None)  # ruamel's line and column of each key
        if where is not None and isinstance(entry.get("name"), str):
            lines.setdefault(entry["name"], where.key("name")[0] + 1)
    return lines


def inventory_lines(repo_root: Path, environment: str) -> dict[str, int]:
    """:func:`target_lines` of ``targets/<environment>.yaml`` in the working tree."""
    rel = f"targets/{environment}.yaml"
    try:
        text = _read(repo_root, rel)
    except ConfigError:
        return {}
    return target_lines(text, rel) if text is not None else {}
