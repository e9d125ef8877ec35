"""Each device tier's digests through a bundle's history (design §13): which revision a
device runs, from the digest it reports. Digests per revision are kept in the history's disk
cache (keyed by git object ids, so never stale), so an audit renders each revision once ever."""

from __future__ import annotations

from .history import BundleHistory
from .tiers import tier_digests


def tier_revisions(history: BundleHistory, target: str | None) -> dict[str, dict[str, str]]:
    """Tier -> digest -> the newest revision (along the desired ancestry) whose render of that
    tier has it, as ``target`` sees the bundle (its overlay)."""
    found: dict[str, dict[str, str]] = {}
    for sha in history.shas:  # newest first: the first revision seen with a digest wins
        for tier, digest in digests_at(history, sha, target).items():
            found.setdefault(tier, {}).setdefault(digest, sha)
    return found


def digests_at(history: BundleHistory, sha: str, target: str | None) -> dict[str, str]:
    """Each tier's digest at ``sha`` (empty when the bundle does not render there)."""
    key = history.key(sha, target)
    if key is None:
        return {}
    cache_key = f"{key}|tiers"
    hit, value = history.cache.get(cache_key)
    if hit:
        return value or {}
    done = history.rendered(sha, target)
    value = tier_digests(done) if done is not None else {}
    history.cache.put(cache_key, value)
    return value


def ancestors_of(history: BundleHistory, revision: str) -> set[str]:
    """The revisions of the bundle that are ancestors of ``revision`` (itself excluded)."""
    sha = history.repo.commit(revision).hexsha
    return set(history.repo.touching(sha, history.folder)) - {sha}
