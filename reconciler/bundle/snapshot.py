"""The git side of an audit at one desired revision, shared by every audit of it in a process:
the pooled repository, each bundle's history, and the tags.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

from ..statedir import code_digest
from .gitrepo import GitRepo, repo_at
from .history import BundleHistory
from .historyindex import RENDERER, DigestCache, RenderStore


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
