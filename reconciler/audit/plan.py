"""``reconciler plan``: what converging to the desired revision would change, per target.

With ``--base REV`` it works offline (a pull request's CI need not reach production): each
target's render at REV against its render at the desired revision. Without it, each target's
observed config against desired — the audit's changes under the plan's schema.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from ..bundle.gitrepo import GitFiles, repo_at
from ..bundle.render import Rendered, render
from ..canonical import bundle_digest
from ..config.inventory import load_inventory
from ..diff import diff_bundle
from ..diff.classify import Status
from ..errors import ConfigError
from ..statedir import cache_dir
from .results import Audit, BundleResult, TargetResult

PLAN_SCHEMA = "agent-reconciler.plan/v1"


def plan_offline(
    repo_root: Path, environment: str, base: str, now: dt.datetime, revision: str | None = None
) -> Audit:
    """Every target's render at ``base`` against its render at the desired revision."""
    inventory = load_inventory(repo_root, environment, cache_dir(repo_root))
    git = repo_at(repo_root)
    desired = git.commit(revision or "HEAD").hexsha
    before = git.commit(base).hexsha
    renders: dict[tuple[str, str, str], Rendered | None] = {}

    def rendered(sha: str, bundle: str, target: str) -> Rendered | None:
        key = (sha, bundle, target)
        if key not in renders:
            try:
                renders[key] = render(GitFiles(git, sha), bundle, sha, target)
            except ConfigError:
                if sha == desired:
                    raise
                renders[key] = None  # the bundle is new since base: everything is added
        return renders[key]

    results = []
    for target in inventory.targets:
        bundles = []
        for bundle in inventory.bundles:
            new = rendered(desired, bundle, target.name)
            old = rendered(before, bundle, target.name)
            if new is None:  # unreachable: a desired render that fails raises above
                continue
            carried_new = {k: v for k, v in new.components.items() if target.carries_component(k)}
            carried_old = {
                k: v
                for k, v in (old.components if old else {}).items()
                if target.carries_component(k)
            }
            new_digests = {k: new.digests[k] for k in carried_new}
            old_digests = {k: old.digests[k] for k in carried_old} if old else {}
            changes = diff_bundle(carried_old, carried_new, old_digests, new_digests)
            same = old_digests == new_digests
            bundles.append(
                BundleResult(
                    bundle,
                    Status.IN_SYNC if same else Status.LAGGING,
                    observed_digest=bundle_digest(old_digests) if old else None,
                    observed_revision=before,
                    behind=0 if same else git.count_between(before, desired, f"bundles/{bundle}"),
                    changes=changes,
                    desired_digest=bundle_digest(new_digests),
                )
            )
        results.append(TargetResult(target, bundles))
    return Audit(
        environment=inventory.environment,
        generated_at=now,
        desired_revision=desired,
        committed_at=git.committed_at(desired),
        desired={b: render(GitFiles(git, desired), b, desired) for b in inventory.bundles},
        targets=results,
        findings=[],
        inventory=inventory,
        tags=git.read_tags(),
        schema=PLAN_SCHEMA,
    )
