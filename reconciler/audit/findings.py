"""Findings an audit draws from the whole fleet once every target is judged: a torn bundle, a
breaking change between what targets run, a serving process behind its store (``not_loaded``)."""

from __future__ import annotations

from collections.abc import Mapping

from ..diff.change import Severity
from ..diff.classify import probed
from ..model.codes import FindingCode, Level
from ..model.duration import format_duration
from ..model.status import Status
from ..revisions import revision_label
from .results import BundleResult, Finding, TargetResult


def loaded(store: BundleResult, process: BundleResult, tags: Mapping[str, str]) -> None:
    """Compare the process's report with the store: "store has v47, process serves v46"."""
    store.probe = {
        "status": str(process.status),
        "observed_digest": process.observed_digest,
        "observed_revision": process.observed_revision,
        "lag_seconds": process.lag_seconds,
        "error": process.error,
    }
    status = probed(store.status, store.observed_digest, process.observed_digest)
    if status is store.status:
        return  # an unreadable probe: the store's status stands, the probe's error is shown

    def label(result: BundleResult) -> str:
        sha = result.observed_revision
        if result.status is Status.DRIFTED or not sha:
            return "out-of-band content"
        return revision_label(sha, tags)

    age = process.lag_seconds
    since = f" for {format_duration(age)}" if age else ""
    store.error = f"store has {label(store)}, process serves {label(process)}{since}"
    store.status = status
    store.lag_seconds = max(store.lag_seconds or 0, age or 0)


def torn_findings(results: list[TargetResult], tags: Mapping[str, str]) -> list[Finding]:
    """One ``torn`` finding per group whose targets run no one revision of a bundle together.

    A part that carries some components runs every revision that kept them: a prompt registry
    whose prompt v48 did not change runs v47 as well as v48, so a region at v47 beside it is not
    torn. Out-of-band content beside anything else is.
    """
    groups: dict[tuple[str, str], list[tuple[str, str, frozenset[str] | None]]] = {}
    for target in results:
        if target.spec.group is None:
            continue
        for bundle in target.bundles:
            part: tuple[str, frozenset[str] | None]
            if bundle.status is Status.DRIFTED:
                part = ("out-of-band content", None)
            elif bundle.observed_revision:
                sha = bundle.observed_revision
                part = (revision_label(sha, tags), bundle.runs_any_of or frozenset({sha}))
            else:
                continue  # unobservable: its own status says so
            groups.setdefault((target.spec.group, bundle.bundle), []).append((target.name, *part))
    found = []
    for (group, name), parts in sorted(groups.items()):
        if len({label for _, label, _ in parts}) == 1:
            continue
        revisions = [runs for _, _, runs in parts]
        if all(runs is not None for runs in revisions) and frozenset.intersection(
            *(runs for runs in revisions if runs is not None)
        ):
            continue  # one revision that every part runs
        detail = "; ".join(f"{who} at {label}" for who, label, _ in parts)
        message = f"{group} runs a torn {name}: {detail}"
        found.append(Finding(Level.ERROR, FindingCode.TORN, message, bundle=name))
    return found


def fleet_findings(results: list[TargetResult]) -> list[Finding]:
    """Findings about the fleet as a whole: a breaking change between what targets run."""
    found = []
    for target in results:
        for bundle in target.bundles:
            breaking = [c for c in bundle.changes if c.severity is Severity.BREAKING]
            if breaking:
                found.append(
                    Finding(
                        Level.ERROR,
                        FindingCode.BREAKING,
                        f"runs {bundle.bundle} across a breaking change: "
                        f"{breaking[0].component} {breaking[0].summary}"
                        + (f" (+{len(breaking) - 1} more)" if len(breaking) > 1 else ""),
                        target.name,
                        bundle.bundle,
                    )
                )
    return found
