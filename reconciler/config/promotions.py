"""What ``promotion.from`` must name across the repo's environments (design §14): an existing
environment, and no cycle of promotions. Each error names the file and the line of its
``from:``, as ``reconciler validate`` reports everything."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from ..errors import ConfigError
from .inventory import _read


def from_line(repo_root: Path, environment: str) -> int | None:
    """The line of ``promotion.from`` in ``targets/<environment>.yaml`` (None: not found)."""
    from .yamlfile import parse

    rel = f"targets/{environment}.yaml"
    try:
        text = _read(repo_root, rel)
        root = parse(text, rel) if text is not None else None
    except ConfigError:
        return None
    block = root.get("promotion") if isinstance(root, dict) else None
    where = getattr(block, "lc", None)
    if where is None or not isinstance(block, dict) or "from" not in block:
        return None
    line: int = where.key("from")[0] + 1
    return line


def check(repo_root: Path, upstreams: Mapping[str, str | None]) -> list[ConfigError]:
    """Errors of the promotion graph: ``upstreams`` maps each environment to its ``from``."""
    errors = []
    known = ", ".join(sorted(upstreams)) or "none"
    for env, upstream in sorted(upstreams.items()):
        if upstream is None:
            continue
        rel = f"targets/{env}.yaml"
        if upstream not in upstreams:
            message = f"promotion.from: no environment {upstream!r} (environments: {known})"
            errors.append(ConfigError(message, file=rel, line=from_line(repo_root, env)))
            continue
        chain = [env]
        step: str | None = upstream
        while step is not None and step in upstreams and step not in chain:
            chain.append(step)
            step = upstreams[step]
        if step == env:
            path = " <- ".join([*chain, env])
            message = f"promotion.from: a cycle of promotions: {path}"
            errors.append(ConfigError(message, file=rel, line=from_line(repo_root, env)))
    return errors
