"""Loading a bundle's spec for history renders: each YAML and JSON blob parsed once, by the C
loader, and each pairing of bundle.yaml with an overlay validated once.

Consecutive revisions share most of their blobs; keyed by the bytes themselves (a blob id is a
hash of them), a blob read at a hundred revisions is parsed at the first. What this cannot load
(an invalid file) is loaded again by the exact loader, which raises its error at ``file:line``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Protocol

from ..canonical import digest
from ..config import yamlfile
from ..config.jsonfile import load_json
from ..config.yamlfile import check_size
from ..errors import ConfigError
from ..limits import MAX_FILE, MAX_YAML
from ..model.bundle import BundleSpec
from .rendered import bundle_dir, check_tool, deep_merge, overlay_path, prompt_component


class BundleFiles(Protocol):
    """:class:`~.render.BundleFiles`: the repo's files at one revision."""

    def read(self, path: str) -> bytes: ...


#: Distinct blobs (and bundle.yaml/overlay pairs) kept parsed in one process.
KEEP = 1024

#: The spec, its plain data, and the loaded files it came from (``render.Blame``).
Loaded = tuple[BundleSpec, dict[str, Any], list[tuple[Any, str]]]


def load_fast(
    files: BundleFiles,
    bundle: str,
    target: str | None,
    exact: Callable[[BundleFiles, str, str | None], Loaded],
) -> Loaded:
    """What ``exact(files, bundle, target)`` returns (the validated spec, its plain data, the
    files it came from), from the blobs' parse cache; ``exact`` decides anything invalid."""
    spec_file = f"{bundle_dir(bundle)}/bundle.yaml"
    over_file = overlay_path(bundle, target) if target is not None else None
    try:
        spec_raw = files.read(spec_file)
        over_raw: bytes | None = None
        if over_file is not None:
            try:
                over_raw = files.read(over_file)
            except FileNotFoundError:
                over_raw = None
        spec, data = _merged(spec_raw, over_raw, bundle, spec_file, over_file)
    except (ConfigError, FileNotFoundError, ValueError):
        return exact(files, bundle, target)  # raises the exact error, at its line
    return spec, data, [(data, spec_file)]


@functools.lru_cache(maxsize=KEEP)
def _merged(
    spec_raw: bytes, over_raw: bytes | None, bundle: str, spec_file: str, over_file: str | None
) -> tuple[BundleSpec, dict[str, Any]]:
    """The validated spec of bundle.yaml with an overlay merged in (shared: never mutate it).

    Raises ValueError (pydantic's ValidationError is one) or ConfigError when either is invalid.
    """
    data = _values(spec_raw, spec_file)
    if not isinstance(data, dict):
        raise ConfigError("expected a mapping", file=spec_file)
    spec = BundleSpec.model_validate(data)
    if spec.name != bundle:
        raise ConfigError("the name must equal the folder name", file=spec_file)
    if over_raw is None or over_file is None:
        return spec, data
    over = _values(over_raw, over_file)
    if over is None:
        return spec, data
    if not isinstance(over, dict) or over.get("name", bundle) != bundle:
        raise ConfigError("not an overlay", file=over_file)
    merged = deep_merge(data, over)
    return BundleSpec.model_validate(merged), merged


@functools.lru_cache(maxsize=KEEP)
def _values(raw: bytes, file: str) -> Any:
    """The plain values of one YAML blob (shared: never mutate them)."""
    if len(raw) > MAX_YAML:
        raise ConfigError("too large", file=file)
    return yamlfile.values(raw.decode("utf-8"), file)


@functools.lru_cache(maxsize=KEEP)
def json_once(raw: bytes, file: str) -> Any:
    """:func:`~reconciler.config.jsonfile.load_json` once per blob (shared: never mutate it)."""
    return load_json(raw, file)


@functools.lru_cache(maxsize=KEEP)
def prompt_once(raw: bytes, file: str) -> dict[str, Any]:
    """A prompt's component once per blob (shared: never mutate it)."""
    return prompt_component(raw, file)


#: Digests of the shared values above, by identity; each value is held so its id stays its own.
_DIGESTS: dict[int, tuple[Any, str]] = {}


def digests_once(components: dict[str, Any]) -> dict[str, str]:
    """Component digests, each shared value's computed once (flags are built per render)."""
    found: dict[str, str] = {}
    for key, value in components.items():
        hit = _DIGESTS.get(id(value))
        if hit is not None and hit[0] is value:
            found[key] = hit[1]
            continue
        found[key] = digest(value)
        if not key.startswith("flag/"):
            if len(_DIGESTS) >= 4 * KEEP:
                _DIGESTS.clear()
            _DIGESTS[id(value)] = (value, found[key])
    return found


def file_component(kind: str, raw: bytes, path: str) -> Any:
    """The component a prompt, tool or output schema file gives, as a render reads it (shared:
    never mutate it); ConfigError when the file does not render."""
    check_size(raw, MAX_FILE, path)
    if kind == "prompt":
        return prompt_once(raw, path)
    value = json_once(raw, path)
    if not isinstance(value, dict):
        raise ConfigError("expected a JSON object", file=path, line=1)
    return check_tool(value, path) if kind == "tool" else value
