"""Point a change at the line of the bundle file that holds it, and a target at the line of
the inventory that declares it (for CI annotations)."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from ..bundle.gitrepo import GitFiles
from ..bundle.render import BundleFiles, bundle_dir, load_spec, source_file
from ..config.inventory import inventory_lines, target_lines
from ..config.validation import line_of
from ..config.yamlfile import parse
from ..diff.change import Change
from ..errors import ReconcilerError
from ..model.bundle import BundleSpec

_SECTION = {"guardrail": "guardrails", "flag": "flags"}
_RENAMED = re.compile(r"->\s*([A-Za-z0-9_.$-]+)")


class Locator:
    """Finds ``(file, line)`` for changes of bundles read from one revision, and for targets.

    The audit reads inventories from the working tree (``worktree``; by default that of the git
    repository ``files`` reads, else inventories are read from ``files`` like the bundles).
    """

    def __init__(self, files: BundleFiles, worktree: Path | None = None) -> None:
        self.files = files
        self.worktree = worktree
        if worktree is None and isinstance(files, GitFiles):
            self.worktree = files.repo.path
        self._spec = lru_cache(maxsize=None)(self._load_spec)
        self._text = lru_cache(maxsize=None)(self._read)
        self._targets = lru_cache(maxsize=None)(self._target_lines)

    def target(self, environment: str, target: str) -> tuple[str, int]:
        """Where the inventory of ``environment`` declares ``target`` (line 1 when unknown)."""
        file = f"targets/{environment}.yaml"
        return file, self._targets(environment).get(target, 1)

    def _target_lines(self, environment: str) -> dict[str, int]:
        if self.worktree is not None:
            return inventory_lines(self.worktree, environment)
        file = f"targets/{environment}.yaml"
        return target_lines(self._text(file), file)

    def _load_spec(self, bundle: str) -> BundleSpec:
        return load_spec(self.files, bundle)[0]

    def _read(self, path: str) -> str:
        try:
            return self.files.read(path).decode("utf-8", "replace")
        except (FileNotFoundError, ReconcilerError):
            return ""

    def locate(self, bundle: str, change: Change) -> tuple[str, int]:
        root = bundle_dir(bundle)
        spec_file = f"{root}/bundle.yaml"
        try:
            rel = source_file(self._spec(bundle), change.component)
        except ReconcilerError:
            return spec_file, 1
        if rel is None:
            return spec_file, self._yaml_line(spec_file, change)
        path = f"{root}/{rel}"
        return path, self._text_line(self._text(path), change)

    def _yaml_line(self, spec_file: str, change: Change) -> int:
        kind, _, name = change.component.partition("/")
        loc: list[str | int] = [_SECTION.get(kind, kind), *([name] if name else [])]
        loc += [p for p in change.path.split(".") if p]
        try:
            return line_of(parse(self._text(spec_file), spec_file), loc) or 1
        except ReconcilerError:
            return 1

    @staticmethod
    def _text_line(text: str, change: Change) -> int:
        # A prompt: the first desired line of the change (``+ `` lines are what is desired).
        wanted = [e[2:] for e in change.lines if e.startswith("+ ") and e[2:].strip()]
        if wanted:
            for number, line in enumerate(text.splitlines(), start=1):
                if line.rstrip() == wanted[0]:
                    return number
        needles = _RENAMED.findall(change.summary)
        needles += [p for p in reversed(change.path.split(".")) if p and not p.isdigit()][:1]
        for needle in needles:
            for number, line in enumerate(text.splitlines(), start=1):
                if f'"{needle}"' in line:
                    return number
        return 1
