"""Render a bundle (design §7): bundle.yaml + its files + a target's overlay -> one document.

The files come from a :class:`BundleFiles` reader (git objects at a revision, or the working
tree for ``validate``), so rendering itself never touches git or the filesystem directly.
"""

from __future__ import annotations

import functools
import posixpath
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from ..canonical import RENDERED_SCHEMA
from ..config.jsonfile import load_json
from ..config.validation import line_of, validate, validate_merged
from ..config.yamlfile import check_size, parse, plain
from ..errors import ConfigError
from ..limits import MAX_DOCUMENT, MAX_FILE, MAX_YAML, size_text
from ..model.bundle import BundleSpec, Flag
from .rendered import (
    Rendered,
    bundle_dir,
    check_tool,
    deep_merge,
    overlay_path,
    prompt_component,
)

# Rendered, bundle_dir, deep_merge and overlay_path live in .rendered (no YAML, no pydantic):
# re-exported for the callers that render.
__all__ = [
    "RENDERED_SCHEMA",
    "BundleFiles",
    "Rendered",
    "bundle_dir",
    "deep_merge",
    "flag_component",
    "load_spec",
    "number",
    "overlay_path",
    "render",
    "source_file",
]


class BundleFiles(Protocol):
    """Read access to the repo's files at one revision (paths relative to the repo root)."""

    def read(self, path: str) -> bytes:
        """The file's bytes; FileNotFoundError when it does not exist."""
        ...


#: Loaded YAML files a bundle's settings came from, overlay first: ``(tree, file)``.
Blame = list[tuple[Any, str]]


class _Reader:
    """Reads one bundle's files, refusing paths that leave the bundle folder."""

    def __init__(self, files: BundleFiles, bundle: str, blame: Blame) -> None:
        self.files = files
        self.root = bundle_dir(bundle)
        self.blame = blame  #: where a reference can come from, for the file and line to blame
        self.named_at: dict[str, tuple[str, ...]] = {}  #: path -> where the YAML names it
        self.load_json: Callable[[bytes, str], Any] = load_json
        self.load_prompt: Callable[[bytes, str], dict[str, Any]] = prompt_component

    def _error(self, message: str, at: tuple[str, ...] | None) -> ConfigError:
        """An error at the file (overlay or bundle.yaml) that sets ``at``, and its line."""
        tree, origin = self.blame[-1]
        for candidate, file in self.blame:
            if at and _holds(candidate, at):
                tree, origin = candidate, file
                break
        line = line_of(tree, at) if tree is not None and at else None
        return ConfigError(message, file=origin, line=line)

    def path(self, ref: str, at: tuple[str, ...] = ()) -> str:
        norm = posixpath.normpath(ref)
        if ref.startswith("/") or norm == ".." or norm.startswith("../") or "\\" in ref:
            raise self._error(f"file {ref!r} is outside the bundle folder", at)
        path = f"{self.root}/{norm}"
        self.named_at[path] = at
        return path

    def read(self, path: str) -> bytes:
        try:
            data = self.files.read(path)
        except FileNotFoundError:
            at = self.named_at.get(path)
            raise self._error(f"{path}: file not found", at) from None
        check_size(data, MAX_FILE, path)
        return data

    def prompt(self, path: str) -> dict[str, Any]:
        return self.load_prompt(self.read(path), path)

    def json_object(self, path: str) -> dict[str, Any]:
        value = self.load_json(self.read(path), path)
        if not isinstance(value, dict):
            raise ConfigError("expected a JSON object", file=path, line=1)
        return value


def _holds(tree: Any, at: tuple[str, ...]) -> bool:
    """Whether the loaded YAML ``tree`` itself sets the value at ``at``."""
    node = tree
    for part in at:
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def load_spec(
    files: BundleFiles, bundle: str, target: str | None = None
) -> tuple[BundleSpec, dict[str, Any]]:
    """The validated spec and its plain data, with ``target``'s overlay merged in."""
    spec, data, _ = _load(files, bundle, target)
    return spec, data


def _load(
    files: BundleFiles, bundle: str, target: str | None
) -> tuple[BundleSpec, dict[str, Any], Blame]:
    """:func:`load_spec`, plus the loaded YAML files a reference can be blamed on."""
    spec_file = f"{bundle_dir(bundle)}/bundle.yaml"
    try:
        raw_text = files.read(spec_file)
    except FileNotFoundError:
        raise ConfigError(f"bundle {bundle!r} not found (no {spec_file})") from None
    root, spec, data = _parse_spec(raw_text, spec_file)
    if spec.name != bundle:
        raise ConfigError(
            f"name {spec.name!r} must equal the folder name {bundle!r}", file=spec_file
        )
    blame: Blame = [(root, spec_file)]
    if target is None:
        return spec, data, blame
    over_file = overlay_path(bundle, target)
    try:
        over_text = files.read(over_file)
    except FileNotFoundError:
        return spec, data, blame
    check_size(over_text, MAX_YAML, over_file)
    over_root = parse(_decode(over_text, over_file), over_file)
    if over_root is None:
        return spec, data, blame
    if not isinstance(over_root, dict):
        raise ConfigError("an overlay must be a mapping", file=over_file, line=1)
    if "name" in over_root and over_root["name"] != bundle:
        raise ConfigError("an overlay cannot rename the bundle", file=over_file)
    merged = deep_merge(data, plain(over_root))
    blame = [(over_root, over_file), *blame]
    spec = validate_merged(BundleSpec, merged, blame)
    return spec, merged, blame


@functools.lru_cache(maxsize=64)
def _parse_spec(raw: bytes, spec_file: str) -> tuple[Any, BundleSpec, dict[str, Any]]:
    """Parse and validate bundle.yaml once per content: history renders reuse it per commit.

    Callers must not mutate what this returns (it is shared between renders).
    """
    check_size(raw, MAX_YAML, spec_file)
    root = parse(_decode(raw, spec_file), spec_file)
    return root, validate(BundleSpec, root, spec_file), plain(root)


def _decode(raw: bytes, file: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError("not valid UTF-8 text", file=file) from None


def render(
    files: BundleFiles,
    bundle: str,
    revision: str | None,
    target: str | None = None,
    *,
    fast: bool = False,
) -> Rendered:
    """Render ``bundle`` as ``target`` sees it (with its overlay) from ``files``.

    A render larger than :data:`~reconciler.limits.MAX_DOCUMENT` (the fetch cap) is a
    ConfigError: a target could never read it back as in sync, so nothing may write it.
    ``fast`` reads YAML with the C loader and each blob once (:mod:`.fastload`): the same
    render, for history, where an error's line is never shown.
    """
    if fast:
        from .fastload import load_fast

        spec, data, blame = load_fast(files, bundle, target, _load)
    else:
        spec, data, blame = _load(files, bundle, target)
    reader = _Reader(files, bundle, blame)
    if fast:
        from .fastload import json_once, prompt_once

        reader.load_json, reader.load_prompt = json_once, prompt_once
    components: dict[str, Any] = {"model": data["model"]}
    for name, prompt in spec.prompts.items():
        path = reader.path(prompt.file, ("prompts", name, "file"))
        components[f"prompt/{name}"] = reader.prompt(path)
    for name, tool in spec.tools.items():
        path = reader.path(tool.schema_file, ("tools", name, "schema"))
        components[f"tool/{name}"] = check_tool(reader.json_object(path), path)
    for name, out in spec.output_schemas.items():
        path = reader.path(out.schema_file, ("output_schemas", name, "schema"))
        components[f"output_schema/{name}"] = reader.json_object(path)
    for name in spec.guardrails:
        components[f"guardrail/{name}"] = data["guardrails"][name]
    for name, flag in spec.flags.items():
        components[f"flag/{name}"] = flag_component(flag)
    if fast:
        from .fastload import digests_once

        done = Rendered.known(bundle, revision, components, digests_once(components))
    else:
        done = Rendered.build(bundle, revision, components)
    size = _size(done)
    if size > MAX_DOCUMENT:
        seen = f" for target {target!r}" if target is not None else ""
        raise ConfigError(
            f"bundle {bundle!r}{seen} renders to {size} bytes, more than the "
            f"{size_text(MAX_DOCUMENT)} a target can hold; refused, nothing was written",
            file=blame[-1][1],
        )
    return done


def _size(done: Rendered) -> int:
    """The size of ``done.to_bytes()``, exact where it matters: orjson measures it about ten
    times faster, within a few bytes per number (``1e-7`` for ``1e-07``), so only a render
    within a factor of two of the cap is measured exactly."""
    import orjson

    try:
        near = len(orjson.dumps(done.to_json(), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
    except TypeError:  # an integer past 64 bits: measured exactly
        near = MAX_DOCUMENT
    return near if near * 2 < MAX_DOCUMENT else len(done.to_bytes())


def number(value: float) -> int | float:
    """Whole numbers as ints (``50.0`` -> ``50``), so every source spells a number alike."""
    return int(value) if float(value).is_integer() else float(value)


def flag_component(flag: Flag) -> dict[str, Any]:
    """A flag with its defaults filled in: what every source reads back, digest for digest."""
    return {
        "enabled": flag.enabled,
        "rollout": number(flag.rollout),
        "variants": {name: number(weight) for name, weight in sorted(flag.variants.items())},
    }


def source_file(files_spec: BundleSpec, component: str) -> str | None:
    """The bundle-relative file that holds ``component`` (for annotations), if it is a file."""
    kind, _, name = component.partition("/")
    table: dict[str, Mapping[str, Any]] = {
        "prompt": files_spec.prompts,
        "tool": files_spec.tools,
        "output_schema": files_spec.output_schemas,
    }
    refs = table.get(kind)
    if refs is None or name not in refs:
        return None
    ref = refs[name]
    return posixpath.normpath(getattr(ref, "file", None) or ref.schema_file)
