"""The history index: every revision of a bundle, digested as each target sees it.

Renders are keyed by git object ids (the bundle folder's tree, plus the target when it has an
overlay there), which are content hashes, so the on-disk cache under ``.reconciler/`` never
needs invalidating: a revision rendered once is never parsed again.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import OrderedDict
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..canonical import bundle_digest, component_digests
from ..diff.classify import Lineage
from ..errors import ConfigError, ReconcilerError
from ..revisions import revision_label
from ..statedir import code_digest
from .gitrepo import GitFiles, GitRepo, batch_check, repo_at
from .inputs import InputRenders
from .lineage import Arrivals, Subsets
from .listing import listings
from .rendered import Rendered, bundle_dir

CACHE_VERSION = 1
#: The code a render depends on: a stored render is read back only by the code that made it.
RENDERER = (
    "bundle/render.py",
    "bundle/rendered.py",
    "canonical.py",
    "config",
    "limits.py",
    "model",
)
#: Stored renders kept per renderer; the oldest go when there are more.
KEEP_RENDERS = 64

Strip = Callable[[Mapping[str, Any]], dict[str, Any]]


class DigestCache:
    """Component digests per render key, persisted as one JSON file (read when first asked).

    Its :attr:`index` beside it (``<name>-blobs.json``) is the content-addressed history index
    (:mod:`.parts`): file components by blob id, render shapes and digests by input blob ids.
    """

    def __init__(self, path: Path | None, *, index: bool = True) -> None:
        self.path = path
        self._entries: dict[str, dict[str, str] | None] | None = None
        self.dirty = False
        beside = path.with_name(f"{path.stem}-blobs.json") if path is not None else None
        self.index: DigestCache | None = DigestCache(beside, index=False) if index else None

    @property
    def entries(self) -> dict[str, dict[str, str] | None]:
        if self._entries is None:
            self._entries = {}
            if self.path is not None and self.path.exists():
                try:
                    data = json.loads(self.path.read_text())
                    if data.get("version") == CACHE_VERSION:
                        self._entries = data["entries"]
                except (ValueError, KeyError, OSError, AttributeError):
                    self._entries = {}  # a damaged cache is only a slower audit
        return self._entries

    def get(self, key: str) -> tuple[bool, dict[str, str] | None]:
        entries = self.entries
        if key in entries:
            return True, entries[key]
        return False, None

    def put(self, key: str, digests: dict[str, str] | None) -> None:
        self.entries[key] = digests
        self.dirty = True

    def save(self) -> None:
        """Write atomically; failing to write a cache never fails an audit."""
        if self.index is not None:
            self.index.save()
        if self.path is None or not self.dirty:
            return
        try:
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".cache-")
            with os.fdopen(fd, "w") as handle:  # one string: json.dump writes piece by piece
                handle.write(json.dumps({"version": CACHE_VERSION, "entries": self.entries}))
            os.replace(tmp, self.path)
            self.dirty = False
        except OSError:
            pass


class RenderStore:
    """Renders of desired revisions on disk, keyed like the digests (git object ids) and by the
    renderer's own code, so an audit whose desired bundle was rendered before reads it back
    instead of parsing YAML and validating it again (no ruamel, no pydantic on that path).

    Each entry is checked when read: its digests are computed again from its components.
    """

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder

    def _file(self, key: str) -> Path | None:
        if self.folder is None:
            return None
        return self.folder / (key.replace("|", "-") + ".json")

    def get(self, key: str, sha: str) -> Rendered | None:
        path = self._file(key)
        if path is None:
            return None
        try:
            data = json.loads(path.read_bytes())
            stored = Rendered.build(data["name"], sha, data["components"])
        except (OSError, ValueError, KeyError, TypeError):
            return None  # absent or damaged: rendered again
        return stored if stored.digest == data.get("digest") else None

    def put(self, key: str, done: Rendered) -> None:
        """Write atomically; failing to write a cache never fails an audit."""
        path = self._file(key)
        if path is None:
            return
        data = {"name": done.name, "components": done.components, "digest": done.digest}
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".render-")
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle, ensure_ascii=False)
            os.replace(tmp, path)
            kept = sorted(path.parent.glob("*.json"), key=lambda f: f.stat().st_mtime)
            for old in kept[:-KEEP_RENDERS]:
                old.unlink(missing_ok=True)
        except OSError:
            pass


class BundleHistory:
    """One bundle's revisions reachable from the desired revision, newest first.

    Everything here is a function of git objects, so one history serves every audit of the same
    desired revision (see :func:`snapshot`).
    """

    def __init__(
        self,
        repo: GitRepo,
        bundle: str,
        desired: str,
        cache: DigestCache,
        renders: RenderStore | None = None,
    ) -> None:
        self.repo = repo
        self._landed: dict[str, float] = {}
        self.bundle = bundle
        self.desired = desired
        self.folder = bundle_dir(bundle)
        self.cache = cache
        self.renders = renders or RenderStore(None)
        self.shas = repo.touching(desired, self.folder)
        if not self.shas:
            raise ConfigError(f"bundle {bundle!r} not found at revision {revision_label(desired)}")
        self._others: list[str] | None = None
        self._times = repo.commit_times(self.shas)
        self._trees: dict[str, str | None] = {}
        self._overlays: dict[str, frozenset[str]] = {}
        self._overlaid: frozenset[str] | None = None  #: targets with an overlay at any revision
        self._renders: dict[str, Rendered | None] = {}
        self._behind: dict[str, int] = {}
        self.inputs = InputRenders(
            repo, bundle, cache.index, lambda: listings(repo, desired, self.folder, self.shas)
        )
        self._index(self.shas)

    def _index(self, shas: list[str]) -> None:
        """Look up the bundle folder and overlay folder ids of many commits in one git call."""
        self._overlaid = None
        todo = [sha for sha in shas if sha not in self._trees]
        specs = [f"{sha}:{self.folder}" for sha in todo]
        specs += [f"{sha}:{self.folder}/overlays" for sha in todo]
        found = batch_check(self.repo, specs)
        listing: dict[str, frozenset[str]] = {}
        for sha in todo:
            hit = found[f"{sha}:{self.folder}"]
            tree = hit[0] if hit and hit[1] == "tree" else None
            self._trees[sha] = tree
            if tree is not None:
                self.repo.anchor(sha, self.folder, tree)
            over = found[f"{sha}:{self.folder}/overlays"]
            if over is None or over[1] != "tree":
                self._overlays[sha] = frozenset()
                continue
            if over[0] not in listing:
                names = self.repo.names(over[0])
                listing[over[0]] = frozenset(
                    name.removesuffix(".yaml") for name in names if name.endswith(".yaml")
                )
            self._overlays[sha] = listing[over[0]]

    def has_overlay(self, target: str) -> bool:
        """Whether ``target`` has an overlay at any revision of the history."""
        if self._overlaid is None:
            self._overlaid = frozenset().union(*self._overlays.values())
        return target in self._overlaid

    def key(self, sha: str, target: str | None) -> str | None:
        tree = self._trees.get(sha)
        if tree is None:
            return None
        if target is not None and target in self._overlays.get(sha, frozenset()):
            return f"{tree}|{target}"
        return tree

    def rendered(self, sha: str, target: str | None) -> Rendered | None:
        """The render at ``sha`` as ``target`` sees it (None when it does not render there)."""
        key = self.key(sha, target)
        if key is None:
            return None
        if key not in self._renders:
            if sha != self.desired:  # history: once per distinct set of input blobs
                self._renders[key] = self.inputs.render(sha, target)
                return self._renders[key]
            stored = self.renders.get(key, sha)
            if stored is not None:
                self._renders[key] = stored
                return stored
            done = self._render_desired(target)
            self._renders[key] = done
            self.renders.put(key, done)
        return self._renders[key]

    def _render_desired(self, target: str | None) -> Rendered:
        """The desired revision rendered with the C loader; when that fails, rendered again
        with the round trip, whose error names the file and line."""
        from .render import render  # YAML and pydantic: only when something must render

        files = GitFiles(self.repo, self.desired)
        try:
            return render(files, self.bundle, self.desired, target, fast=True)
        except (ConfigError, ReconcilerError):
            return render(files, self.bundle, self.desired, target)

    def digests(self, sha: str, target: str | None) -> dict[str, str] | None:
        """Component digests at ``sha``, from the disk cache when it has them."""
        key = self.key(sha, target)
        if key is None:
            return None
        hit, value = self.cache.get(key)
        if hit:
            return value
        if sha != self.desired and key not in self._renders:
            value = self.inputs.digests(sha, target)  # no render when only files changed
        else:
            done = self.rendered(sha, target)
            value = done.digests if done is not None else None
        self.cache.put(key, value)
        return value

    def desired_render(self, target: str | None) -> Rendered:
        """The desired render for ``target`` (raises ConfigError when it does not render)."""
        done = self.rendered(self.shas[0], target) if self.shas[0] == self.desired else None
        if done is None:
            done = self._render_desired(target)
        return Rendered(done.name, self.desired, done.components, done.digests, done.digest)

    def _subset(
        self, sha: str, target: str | None, carried: Callable[[str], bool], strip: Strip | None
    ) -> str | None:
        if strip is None:
            digests = self.digests(sha, target)
        else:
            done = self.rendered(sha, target)
            digests = component_digests(strip(done.components)) if done is not None else None
        if digests is None:
            return None
        return bundle_digest({k: v for k, v in digests.items() if carried(k)})

    def lineage(
        self,
        target: str | None,
        carried: Callable[[str], bool],
        strip: Strip | None = None,
        arrived: Callable[[str], float] | None = None,
    ) -> Lineage:
        """The history through one target's eyes (its overlay, carried subset, ignore rules);
        ``arrived`` gives when each change reached the branch (default :meth:`arrived`)."""

        def subsets(shas: list[str]) -> list[str | None]:
            self._prefetch(shas, target, strip is not None)
            return [self._subset(sha, target, carried, strip) for sha in shas]

        return Lineage(
            shas=self.shas,
            times=Arrivals(arrived or self.arrived, self.shas),
            subsets=Subsets(subsets, self.shas),
            elsewhere=lambda subset: self.elsewhere(subset, target, carried, strip),
        )

    def elsewhere(
        self, subset: str, target: str | None, carried: Callable[[str], bool], strip: Strip | None
    ) -> str | None:
        """The newest commit off the desired revision's ancestry whose subset equals ``subset``."""
        self._prefetch(self.others(), target, strip is not None)
        for sha in self.others():
            if self._subset(sha, target, carried, strip) == subset:
                return sha
        return None

    def _prefetch(self, shas: list[str], target: str | None, need_all: bool) -> None:
        """Batch-load the trees (or, for listed revisions, the file blobs) of every revision the
        disk cache cannot answer."""
        missing = []
        listed = []
        for sha in shas:
            key = self.key(sha, target)
            if key is None or key in self._renders:
                continue
            if need_all or not self.cache.get(key)[0]:
                if self.inputs.listed(sha) is not None:
                    listed.append(sha)
                else:
                    missing.append(self._trees[sha])
        if len(listed) > 1:
            self.inputs.prefetch(listed, target)
        if len(missing) > 1:
            self.repo.prefetch([tree for tree in missing if tree is not None])

    def others(self) -> list[str]:
        """Commits touching the bundle on any ref that are not ancestors of desired."""
        if self._others is None:
            mine = set(self.shas)
            self._others = [
                sha
                for sha in self.repo.touching(self.desired, self.folder, all_refs=True)
                if sha not in mine
            ]
            self._index(self._others)
        return self._others

    def arrived(self, sha: str, seen: Mapping[str, float] | None = None, now: float = 0.0) -> float:
        """When the change ``sha`` reached the tracked branch (design §6).

        The committer time of the first first-parent commit of the branch that contains it (for
        a merged branch, the merge's time). Where state is available, ``seen`` maps revisions
        the reconciler saw desired to the first time it saw each, and the clock starts no
        earlier than the first sighting of one that contains the change (``now`` when none
        does yet): a fast-forward to an old commit is not old news.
        """
        landed = self.repo.arrival(sha, self.desired)
        moment = self._landed.get(landed)
        if moment is None:
            moment = self._landed[landed] = self.repo.commit_times([landed])[landed]
        if seen is None:
            return moment
        chain = self.repo.first_parents(self.desired)
        here = chain[landed]
        firsts = [t for rev, t in seen.items() if chain.get(rev, here + 1) <= here]
        return max(moment, min(firsts, default=now))

    def behind(self, sha: str) -> int:
        """Commits touching the bundle in ``sha..desired``."""
        if sha not in self._behind:
            self._behind[sha] = self.repo.count_between(sha, self.desired, self.folder)
        return self._behind[sha]


class Snapshot:
    """The git side of an audit at one desired revision: the repo, and each bundle's history.

    Git objects never change, so a long-lived process (the daemon, a converge loop) reuses one
    snapshot for as long as the desired revision stays the same, instead of walking the
    history again at every step.
    """

    def __init__(
        self, repo: GitRepo, desired: str, cache: DigestCache, renders: RenderStore | None = None
    ) -> None:
        self.repo = repo
        self.desired = desired
        self.cache = cache
        self.renders = renders or RenderStore(None)
        self._histories: dict[str, BundleHistory] = {}
        self._tags: dict[str, str] | None = None

    def history(self, bundle: str) -> BundleHistory:
        found = self._histories.get(bundle)
        if found is None:
            found = self._histories[bundle] = BundleHistory(
                self.repo, bundle, self.desired, self.cache, self.renders
            )
        return found

    @property
    def tags(self) -> dict[str, str]:
        """Commit sha -> tag name, read once per audit (see :func:`snapshot`)."""
        if self._tags is None:
            self._tags = self.repo.read_tags()
        return self._tags

    def forget_tags(self) -> None:
        """Tags come and go (one pushed after its commit): the next audit reads them again."""
        self._tags = None


#: Snapshots by (folder, desired sha), newest last; the oldest are dropped beyond a few
#: (repositories come from the pool, :func:`~reconciler.bundle.gitrepo.repo_at`).
_SNAPSHOTS: OrderedDict[tuple[Path, str], Snapshot] = OrderedDict()
_KEEP = 4


def snapshot(repo_root: Path, revision: str | None, cache_file: Path | None) -> Snapshot:
    """The snapshot of ``repo_root`` at ``revision`` (``HEAD`` when None), shared by every
    audit of the same desired revision in this process."""
    repo = repo_at(repo_root)
    desired = repo.commit(revision or "HEAD").hexsha
    key = (repo_root, desired)
    found = _SNAPSHOTS.get(key)
    if found is None or found.repo is not repo:
        renders = RenderStore(
            cache_file.parent / "renders" / code_digest(*RENDERER) if cache_file else None
        )
        found = _SNAPSHOTS[key] = Snapshot(repo, desired, DigestCache(cache_file), renders)
    found.forget_tags()  # one git for-each-ref per audit; everything else here never changes
    _SNAPSHOTS.move_to_end(key)
    while len(_SNAPSHOTS) > _KEEP:
        _SNAPSHOTS.popitem(last=False)[1].cache.save()
    return found
