"""Quarantines where git users see them: a note on the quarantined commit (``git notes``).

The state store is the authority, but a store can be lost (deleted, reset after damage). Every
quarantine is also written as a note under ``refs/notes/agent-reconciler`` on the revision it
rolled back from — ``git log --notes=agent-reconciler`` shows it, ``git push origin
refs/notes/agent-reconciler`` shares it — and a fresh store takes them back, so a lost store
never lets the bad content roll out again.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterable
from pathlib import Path

from ..bundle.gitrepo import git
from ..model.rollout import Quarantine

REF = "refs/notes/agent-reconciler"
_IDENTITY = ("-c", "user.name=agent-reconciler", "-c", "user.email=agent-reconciler@localhost")


def _git(repo: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return git(repo, *_IDENTITY, *args, input=stdin, text=True, timeout=60)


def _entries(repo: Path, sha: str) -> list[dict[str, object]]:
    shown = _git(repo, "notes", f"--ref={REF}", "show", sha)
    if shown.returncode != 0:
        return []
    found = []
    for line in shown.stdout.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue  # a line a person wrote: kept out of our records, never an error
        if isinstance(entry, dict) and entry.get("kind") == "quarantine":
            found.append(entry)
    return found


def _write(repo: Path, sha: str, entries: list[dict[str, object]]) -> bool:
    if not entries:
        return (
            _git(repo, "notes", f"--ref={REF}", "remove", "--ignore-missing", sha).returncode == 0
        )
    text = "".join(json.dumps(e, sort_keys=True) + "\n" for e in entries)
    return (
        _git(repo, "notes", f"--ref={REF}", "add", "-f", "-F", "-", sha, stdin=text).returncode == 0
    )


def record(repos: Iterable[Path], q: Quarantine) -> bool:
    """Note ``q`` on its revision in every repo that has the commit; True when one took it."""
    entry: dict[str, object] = {
        "kind": "quarantine",
        "environment": q.environment,
        "bundle": q.bundle,
        "digest": q.digest,
        "revision": q.revision,
        "to_revision": q.to_revision,
        "at": q.at,
        "by": q.by,
    }
    noted = False
    for repo in _unique(repos):
        kept = [
            e
            for e in _entries(repo, q.revision)
            if (e.get("environment"), e.get("bundle")) != (q.environment, q.bundle)
        ]
        noted = _write(repo, q.revision, [*kept, entry]) or noted
    return noted


def lift(repos: Iterable[Path], environment: str, bundle: str) -> None:
    """Remove the notes of ``bundle``'s quarantines in ``environment`` (``rollout resume``)."""
    for repo in _unique(repos):
        for q in read([repo]):
            if (q.environment, q.bundle) == (environment, bundle):
                kept = [
                    e
                    for e in _entries(repo, q.revision)
                    if (e.get("environment"), e.get("bundle")) != (environment, bundle)
                ]
                _write(repo, q.revision, kept)


def read(repos: Iterable[Path]) -> list[Quarantine]:
    """Every quarantine noted in these repos (each once)."""
    found: dict[tuple[object, ...], Quarantine] = {}
    for repo in _unique(repos):
        listed = _git(repo, "notes", f"--ref={REF}", "list")
        if listed.returncode != 0:
            continue
        for line in listed.stdout.splitlines():
            parts = line.split()
            if len(parts) != 2:
                continue
            for e in _entries(repo, parts[1]):
                try:
                    q = Quarantine(
                        str(e["environment"]),
                        str(e["bundle"]),
                        str(e["digest"]),
                        str(e["revision"]),
                        float(e["at"]),  # type: ignore[arg-type]
                        str(e["by"]),
                        str(e["to_revision"]) if e.get("to_revision") else None,
                    )
                except (KeyError, TypeError, ValueError):
                    continue
                found[(q.environment, q.bundle, q.digest)] = q
    return list(found.values())


def _unique(repos: Iterable[Path]) -> list[Path]:
    seen: list[Path] = []
    for repo in repos:
        if repo.resolve() not in seen:
            seen.append(repo.resolve())
    return seen
