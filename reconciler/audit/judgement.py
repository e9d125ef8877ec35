"""The judgement of one bundle on one target: what its answer was (an error, a document) and,
for a document, how classification (:func:`reconciler.diff.classify.classify`) places it, with
the findings it tells (a misstated digest, values respelled, content off the ancestry).

Targets that see a bundle alike and serve the same document share one judgement.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..canonical import bundle_digest, component_digests
from ..diff import ignore as ignoring
from ..diff.change import Change
from ..diff.classify import Classification, Lineage, classify
from ..model.codes import FindingCode, Level
from ..model.document import Document, InvalidDocument
from ..model.status import Status
from ..revisions import revision_label
from ..sources.interface import InvalidResponse, NotFound, PermanentError, SourceError
from .bodies import Bodies, Unparsable
from .fetch import Result
from .results import BundleResult, Finding
from .views import View

if TYPE_CHECKING:
    from ..bundle.history import BundleHistory
    from ..model.inventory import TargetSpec


def judged(target: TargetSpec, bundle: str, body: Result, view: View, *args: Any) -> BundleResult:
    result = _judge(target, bundle, body, view, *args)
    result.desired_digest = view.desired_subset
    return result


def _judge(
    target: TargetSpec,
    bundle: str,
    body: Result,
    view: View,
    history: BundleHistory,
    now: float,
    judged: dict[tuple[int, int], Judgement],
    findings: list[Finding],
) -> BundleResult:
    if isinstance(body, NotFound):
        return BundleResult(bundle, Status.MISSING, error=str(body) or "not found")
    if isinstance(body, InvalidResponse):
        return BundleResult(bundle, Status.INVALID, error=str(body), permanent=True)
    if isinstance(body, Unparsable):
        return BundleResult(bundle, Status.INVALID, error=str(body))
    if isinstance(body, SourceError):
        return BundleResult(
            bundle,
            Status.UNREACHABLE,
            error=str(body) or "unreachable",
            permanent=isinstance(body, PermanentError),
        )
    doc = body if isinstance(body, Document) else Bodies().parse(body)  # a custom fetcher's
    if isinstance(doc, InvalidDocument):
        return BundleResult(bundle, Status.INVALID, error=str(doc))
    if doc.name != bundle:
        return BundleResult(
            bundle, Status.INVALID, error=f"serves bundle {doc.name!r}, not {bundle!r}"
        )
    # Targets that see the bundle alike (one view) and serve the same document (one parse)
    # get one judgement: thousands of targets in sync cost one classification.
    key = (id(view), id(doc))
    done = judged.get(key)
    if done is None:
        done = judged[key] = judgement(target, doc, view, history, now)
    for key_ in done.misstated:
        findings.append(
            Finding(
                Level.WARNING,
                FindingCode.MISSTATED_DIGEST,
                f"states a digest for {key_} "
                "that its content does not have (recomputed from content)",
                target.name,
                bundle,
            )
        )
    verdict = done.verdict
    result = BundleResult(
        bundle,
        verdict.status,
        observed_digest=done.observed_digest,
        observed_revision=verdict.observed_revision,
        behind=verdict.behind,
        lag_seconds=verdict.lag_seconds,
        changes=list(done.changes),
        # Only a group is judged torn by it: a target alone never walks the whole history.
        runs_any_of=done.runs_any_of() if target.group is not None else frozenset(),
    )
    if verdict.respelled:
        findings.append(
            Finding(
                Level.WARNING,
                FindingCode.EQUAL_BUT_RESPELLED,
                "serves the desired values written differently (numbers or list "
                "order), so its content digest differs from the desired one",
                target.name,
                bundle,
            )
        )
    if view.rules:
        result.ignored = ignoring.ignored(target.name, done.carried, view.desired_raw, view.rules)
    if verdict.matched_elsewhere:
        findings.append(
            Finding(
                Level.WARNING,
                FindingCode.NOT_AN_ANCESTOR,
                f"content equals revision {revision_label(verdict.matched_elsewhere)}, "
                "which is not an ancestor of the desired revision",
                target.name,
                bundle,
            )
        )
    return result


@dataclass(frozen=True, slots=True)
class Judgement:
    """What one document tells through one view: the same for every target that shares both."""

    document: Document  #: kept alive: the cache is keyed by its id
    misstated: list[str]
    carried: dict[str, Any]
    observed_digest: str
    verdict: Classification
    changes: list[Change]
    lineage: Lineage
    _runs: list[frozenset[str]] = field(default_factory=list)

    def runs_any_of(self) -> frozenset[str]:
        """Every revision of the lineage whose carried content is the observed one (walks the
        whole lineage, once)."""
        if not self._runs:
            self._runs.append(
                frozenset(
                    sha
                    for sha, subset in zip(self.lineage.shas, self.lineage.subsets, strict=True)
                    if subset == self.observed_digest
                )
            )
        return self._runs[0]


def judgement(
    target: TargetSpec, doc: Document, view: View, history: BundleHistory, now: float
) -> Judgement:
    """Classify ``doc`` as ``target`` (and every target sharing its view) sees it."""
    carried = {k: v for k, v in doc.components.items() if target.carries_component(k)}
    if view.rules:  # a view with rules belongs to one target: stripping is its own
        observed = view.strip(target.name, carried)
        digests = component_digests(observed)
    else:
        observed = carried
        digests = {k: doc.digests[k] for k in carried}
    observed_digest = bundle_digest(digests)
    changes: list[Change] = []
    compared: list[bool] = []

    def differs() -> bool:
        if not compared:
            from ..diff.bundle import diff_bundle  # the diff engine loads when something differs

            changes.extend(diff_bundle(observed, view.desired, digests, view.desired_digests))
            compared.append(True)
        return bool(changes)

    verdict = classify(
        desired_subset=view.desired_subset,
        observed_subset=observed_digest,
        desired_revision=history.desired,
        lineage=view.lineage,
        now=now,
        behind=history.behind,
        differs=differs,
    )
    if verdict.status is not Status.IN_SYNC:
        differs()
    return Judgement(doc, doc.misstated(), carried, observed_digest, verdict, changes, view.lineage)
