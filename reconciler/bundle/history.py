"""The history index: every revision of a bundle, digested as each target sees it.

Renders are keyed by git object ids (the bundle folder's tree, plus the target when it has an
overlay there), which are content hashes, so the on-disk cache under ``.reconciler/``
(:mod:`.historyindex`) never needs invalidating: a revision rendered once is never parsed again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..canonical import bundle_digest, component_digests
from ..collector import gc_paused
from ..diff.classify import Lineage
from ..errors import ConfigError, ReconcilerError
from ..revisions import revision_label
from .deltas import Steps
from .gitrepo import GitFiles, GitRepo, batch_check
from .historyindex import DigestCache, RenderStore
from .inputs import InputRenders
from .lineage import Arrivals, Subsets
from .listing import Walk, loaded, saved, walk
from .meanwhile import Meanwhile
from .rendered import Rendered, bundle_dir

__all__ = ["BundleHistory", "DigestCache", "RenderStore", "Strip"]

Strip = Callable[[Mapping[str, Any]], dict[str, Any]]
#: Walks kept in the index per bundle folder (the newest desired revisions').
KEEP_WALKS = 4
#: Overlays at the desired revision from which its folder is read in batches before rendering.
BATCH_OVERLAYS = 16
#: Folder tree ids looked up through the object reader (a few reads each); more, one git call.
FEW_TREES = 16


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
        self.inputs = InputRenders(repo, bundle, cache.index)
        self._early: Rendered | None = None  #: the desired render a log pass made meanwhile
        with gc_paused():  # a thousand commits' tuples, kept and acyclic: no collector passes
            walked = self._walk(repo, desired, cache)
        self.shas = walked.shas if walked is not None else repo.touching(desired, self.folder)
        if not self.shas:
            raise ConfigError(f"bundle {bundle!r} not found at revision {revision_label(desired)}")
        self._others: list[str] | None = None
        self._trees: dict[str, str | None] = {}
        #: Revisions one log pass listed whose folder tree id is not looked up yet: whether the
        #: folder is there (:meth:`_resolve`).
        self._pending: dict[str, bool] = {}
        self._overlays: dict[str, frozenset[str]] = {}
        self._overlaid: frozenset[str] | None = None  #: targets with an overlay at any revision
        self._renders: dict[str, Rendered | None] = {}
        self._desired_read = False  #: the desired folder's objects loaded for its renders
        self._behind: dict[str, int] = {}
        self.walked = walked
        if walked is not None:
            self.inputs.follow(walked)
        self._place: dict[str, int] | None = None
        if walked is not None:
            self._walked(walked)
        self._index(self.shas[walked.chain if walked is not None else 0 :])

    def _walk(self, repo: GitRepo, desired: str, cache: DigestCache) -> Walk | None:
        """The folder's history from the index (a walk is a function of the desired commit and
        the folder), else from one log pass (of the commits since the last walk kept, when the
        desired revision descends from it), then kept in the index."""
        index = cache.index
        name = f"walk:{self.folder}:{desired}"
        walked = loaded(index.get(name)[1]) if index is not None else None
        if walked is not None or index is None:
            return walked
        kept = [key for key in index.entries if key.startswith(f"walk:{self.folder}:")]
        since = loaded(index.get(kept[-1])[1]) if kept else None
        meanwhile = Meanwhile(self.inputs, desired, self._stored_desired)
        if since is not None:  # one merge later: only the commits since are git's to tell
            base = kept[-1].rpartition(":")[2]
            walked = walk(repo, desired, self.folder, (base, since), meanwhile)
        if walked is None:
            walked = walk(repo, desired, self.folder, ahead=meanwhile)
        self._early = meanwhile.rendered
        if walked is not None:
            index.put(name, saved(walked))
            index.prune(f"walk:{self.folder}:", KEEP_WALKS)
        return walked

    def _stored_desired(self) -> Rendered | None:
        """The desired render without an overlay as an earlier audit stored it (a commit that
        changed nothing in the folder keeps its tree, and so its render)."""
        tree = self.repo.tree_id(self.desired, self.folder)
        return self.renders.get(tree, self.desired) if tree is not None else None

    def _walked(self, walked: Walk) -> None:
        """The overlays of the revisions one log pass listed (the rest are :meth:`_index`'s);
        their folder tree ids are looked up only where a render is keyed by one."""
        none: frozenset[str] = frozenset()
        for sha, present, over in zip(walked.shas, walked.present, walked.overlays, strict=False):
            self._pending[sha] = present
            self._overlays[sha] = walked.names[over] if over is not None else none

    def _resolve(self, shas: list[str]) -> None:
        """The folder tree ids of these revisions that one log pass listed: a few through the
        object reader, more in one ``git cat-file --batch-check``."""
        todo = [sha for sha in shas if sha not in self._trees and sha in self._pending]
        there = [sha for sha in todo if self._pending[sha]]
        self._trees.update((sha, None) for sha in todo if not self._pending[sha])
        if len(there) > FEW_TREES:
            found = batch_check(self.repo, [f"{sha}:{self.folder}" for sha in there])
            for sha in there:
                hit = found[f"{sha}:{self.folder}"]
                self._trees[sha] = hit[0] if hit and hit[1] == "tree" else None
        else:
            self._trees.update((sha, self.repo.tree_id(sha, self.folder)) for sha in there)
        for sha in there:
            tree = self._trees[sha]
            if tree is not None:
                self.repo.anchor(sha, self.folder, tree)

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
                names = self.repo.entries(over[0])
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
        if sha not in self._trees and sha in self._pending:
            self._resolve([sha])
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
        if target is None and self._early is not None:
            return self._early
        from .render import render  # YAML and pydantic: only when something must render

        if not self._desired_read:
            # Many overlays, many renders: the folder's files and every overlay in a few batched
            # git processes, not a round trip per object (a handful of files is read sooner
            # one by one from the long-lived cat-file than by starting git again).
            self._desired_read = True
            tree = self.key(self.desired, None)
            if tree is not None and len(self._overlays.get(self.desired, ())) >= BATCH_OVERLAYS:
                self.repo.prefetch([tree])
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

        walked = self.walked if strip is None else None
        steps = Steps(self.inputs, walked, target, carried) if walked is not None else None
        chain = walked.chain if walked is not None else 0

        @gc_paused()
        def subsets(shas: list[str]) -> list[str | None]:
            if self._place is None:
                self._place = {sha: n for n, sha in enumerate(self.shas)}
            first = self._place[shas[0]]
            # Along the chain one log pass undid: each revision a delta on the newer one.
            stepped = [first + n < chain and sha != self.desired for n, sha in enumerate(shas)]
            self._prefetch([s for s, d in zip(shas, stepped, strict=True) if not d], target, strip)
            if steps is not None and any(stepped):
                start = first + stepped.index(True)
                steps.prefetch(start, stepped.count(True))
            found: list[str | None] = []
            n = 0
            while n < len(shas):  # each run of stepped revisions in one call
                if not stepped[n] or steps is None:
                    found.append(self._subset(shas[n], target, carried, strip))
                    n += 1
                    continue
                end = next((m for m in range(n, len(shas)) if not stepped[m]), len(shas))
                found += steps.run(first + n, end - n)
                n = end
            return found

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
        self._prefetch(self.others(), target, strip)
        for sha in self.others():
            if self._subset(sha, target, carried, strip) == subset:
                return sha
        return None

    def _prefetch(self, shas: list[str], target: str | None, strip: Strip | None) -> None:
        """Batch-load the trees (or, for listed revisions, the file blobs) of every revision the
        disk cache cannot answer."""
        self._resolve(shas)
        need_all = strip is not None
        missing = []
        listed = []
        for sha in shas:
            key = self.key(sha, target)
            if key is None or key in self._renders:
                continue
            if need_all or not self.cache.get(key)[0]:
                if self.inputs.is_listed(sha):
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
