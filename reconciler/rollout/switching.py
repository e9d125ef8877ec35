"""Stage everywhere, then switch (design §12): the I/O that carries a group of targets from one
digest to another without leaving it torn.

Every part of a group is staged and verified by re-reading its staged copy before any part
switches; a part that cannot be staged holds the whole group on what it ran. A switch intent is
recorded before the first switch request; the switches are sent concurrently and the torn window
(first request to last acknowledgement) is measured. A switch that still fails after its retries
switches the parts that already moved back to what they ran. The decisions (which parts, which
digests) are made before; this module only carries them out and says what happened.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..canonical import digest as canonical_digest
from ..model import document as parsing
from ..model.inventory import TargetSpec
from ..model.manifests import MANIFEST_SCHEMA
from ..sources.interface import SourceError, TransientError
from ..sources.registry import SourceContext, SourceOpener
from ..sources.staging import Stager, digest_hex, stager_of
from ..state.switches import SwitchIntent

#: Attempts of one switch request within a step (design §12), and the waits between them.
SWITCH_ATTEMPTS = 3
#: Groups staged or switched at once (the audit's own fan-out).
GROUPS_AT_ONCE = 256


def backoff(attempt: int) -> float:
    """Seconds after failed switch attempt ``attempt``: 0.2 s, then 0.4 s."""
    return 0.1 * 2.0**attempt


@dataclass
class Part:
    """One target of a group: the document it switches to, and what it ran before (to switch
    back to; None when unknown)."""

    spec: TargetSpec
    document: bytes
    before: bytes | None = None

    @property
    def name(self) -> str:
        return self.spec.name


@dataclass
class Group:
    """The parts one request reads together (a target without ``group`` is a group of one)."""

    name: str
    parts: list[Part]


@dataclass
class GroupOutcome:
    """How one group's switch went."""

    group: str
    parts: list[str]
    #: switched | stage_failed | failed (nothing moved) | reverted | torn (could not revert)
    outcome: str
    failed: dict[str, SourceError] = field(default_factory=dict)  #: part -> why
    torn_seconds: float | None = None
    reason: str = ""  #: for reverted, torn and stage_failed: one line a person reads
    #: (target, digest hex) staged now, and switched to now
    staged: list[tuple[str, str]] = field(default_factory=list)
    served: list[tuple[str, str]] = field(default_factory=list)


class StageFailed(SourceError):
    """A part of the group could not be staged: no part switched."""

    def __init__(self, message: str, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


class SwitchFailed(SourceError):
    """The group's switch failed; what switched was switched back (or could not be)."""

    def __init__(self, message: str, transient: bool = True) -> None:
        super().__init__(message)
        self.transient = transient


class Switcher:
    """Stages and switches groups of one bundle through the targets' sources."""

    def __init__(
        self,
        ctx: SourceContext,
        opener: SourceOpener,
        *,
        fence: Callable[[], None] = lambda: None,
        open_intents: Callable[[Sequence[Group], Mapping[str, Mapping[str, str]]], list[Any]]
        | None = None,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        self.ctx = ctx
        self.opener = opener
        self.fence = fence
        self.open_intents = open_intents
        self.sleep = sleep
        self._stagers: dict[str, Stager] = {}

    def stager(self, spec: TargetSpec) -> Stager:
        found = self._stagers.get(spec.name)
        if found is None:
            found = self._stagers[spec.name] = stager_of(self.opener(spec, self.ctx))
        return found

    # -- the whole move --------------------------------------------------------------------------

    async def run(
        self, bundle: str, groups: Sequence[Group]
    ) -> tuple[list[GroupOutcome], list[Any]]:
        """Stage every group, record the intents of those ready, switch them; say how each went."""
        limit = asyncio.Semaphore(GROUPS_AT_ONCE)

        async def staged(group: Group) -> GroupOutcome:
            async with limit:
                return await self.stage_group(bundle, group)

        self.fence()
        outcomes = list(await asyncio.gather(*(staged(g) for g in groups)))
        ready = [(g, o) for g, o in zip(groups, outcomes, strict=True) if o.outcome == "ready"]
        self.fence()
        intents: list[Any] = []
        hexes = {g.name: {p.name: digest_hex(p.document) for p in g.parts} for g, _ in ready}
        if self.open_intents is not None:
            intents = self.open_intents([g for g, _ in ready], hexes)

        async def switched(group: Group, outcome: GroupOutcome) -> None:
            async with limit:
                await self.switch_group(bundle, group, outcome)

        await asyncio.gather(*(switched(g, o) for g, o in ready))
        return outcomes, intents

    # -- stage --------------------------------------------------------------------------------

    async def stage_group(self, bundle: str, group: Group) -> GroupOutcome:
        """Stage every part and read each staged copy back; any failure holds the whole group."""
        results = await asyncio.gather(
            *(self._stage(bundle, part) for part in group.parts), return_exceptions=True
        )
        outcome = GroupOutcome(group.name, [p.name for p in group.parts], "ready")
        for part, result in zip(group.parts, results, strict=True):
            if isinstance(result, SourceError):
                outcome.failed[part.name] = result
            elif isinstance(result, BaseException):
                raise result
            else:
                outcome.staged += [(part.name, hex_) for hex_ in result]
        if outcome.failed:
            name, error = sorted(outcome.failed.items())[0]
            outcome.outcome = "stage_failed"
            outcome.reason = f"stage failed on {name}: {error}"
            transient = all(e.transient for e in outcome.failed.values())
            shared = StageFailed(outcome.reason, transient)
            outcome.failed = {p.name: shared for p in group.parts}
        return outcome

    async def _stage(self, bundle: str, part: Part) -> list[str]:
        """Stage and verify one part; the digest hexes staged (none: it stages nothing)."""
        stager = self.stager(part.spec)
        if not stager.stages:
            return []
        hex_ = digest_hex(part.document)
        await stager.stage(bundle, hex_, part.document)
        found = await stager.read_staged(bundle, hex_, part.document)
        want = _carried(part.spec, part.document)
        got = _carried(part.spec, found)
        if got != want:
            raise TransientError(f"staged copy {hex_[:12]} reads back other content")
        kept = await self._keep_before(bundle, stager, part, hex_)
        return [hex_] if kept is None else [hex_, kept]

    async def _keep_before(self, bundle: str, stager: Stager, part: Part, hex_: str) -> str | None:
        """Stage what the part runs now too, when it is not staged yet: a rollback to it is
        then a switch, not an upload (best effort: a failure costs only that). Its hex."""
        if part.before is None:
            return None
        before = digest_hex(part.before)
        if before == hex_:
            return None
        try:
            listed = await stager.staged(bundle)
            if listed is None or before not in listed:
                await stager.stage(bundle, before, part.before)
        except SourceError:
            return None
        return before

    # -- switch -------------------------------------------------------------------------------

    async def switch_group(self, bundle: str, group: Group, outcome: GroupOutcome) -> None:
        """Switch every part at once; a part failing after others succeeded is tried again
        (:data:`SWITCH_ATTEMPTS` in all), then the others are switched back."""
        started = time.perf_counter()
        parts = {p.name: p for p in group.parts}
        acks: list[float] = []
        failed: dict[str, SourceError] = {}
        pending = list(group.parts)
        for attempt in range(1, SWITCH_ATTEMPTS + 1):
            results = await asyncio.gather(
                *(self._switch(bundle, part, part.document) for part in pending),
                return_exceptions=True,
            )
            failed = {}
            for part, result in zip(pending, results, strict=True):
                if isinstance(result, SourceError):
                    failed[part.name] = result
                elif isinstance(result, BaseException):
                    raise result
                else:
                    acks.append(result)
            retry = [e for e in failed.values() if e.transient]
            if not failed or not acks or len(retry) < len(failed) or attempt == SWITCH_ATTEMPTS:
                break  # done, nothing moved yet (the group is whole), or for good
            await self.sleep(backoff(attempt))
            pending = [parts[name] for name in failed]
        outcome.torn_seconds = (max(acks) - started) if acks else 0.0
        moved = [p for p in group.parts if p.name not in failed]
        if not failed:
            outcome.outcome = "switched"
            outcome.served = [(p.name, digest_hex(p.document)) for p in group.parts]
            return
        name, error = sorted(failed.items())[0]
        why = f"switch failed on {name}: {error}"
        if not moved:
            outcome.outcome, outcome.reason = "failed", why
        else:
            await self._switch_back(bundle, moved, outcome, why)
        shared = SwitchFailed(outcome.reason, error.transient)
        outcome.failed = {p.name: shared for p in group.parts}

    async def _switch(self, bundle: str, part: Part, document: bytes) -> float:
        """One part's switch request; when it was acknowledged."""
        await self.stager(part.spec).switch(bundle, digest_hex(document), document)
        return time.perf_counter()

    async def _switch_back(
        self, bundle: str, moved: list[Part], outcome: GroupOutcome, why: str
    ) -> None:
        """Put the parts that switched back on what they ran (staged again first: idempotent)."""
        unknown = [p.name for p in moved if p.before is None]

        async def back(part: Part) -> None:
            assert part.before is not None
            stager = self.stager(part.spec)
            if stager.stages:
                await stager.stage(bundle, digest_hex(part.before), part.before)
            await self._switch(bundle, part, part.before)

        known = [p for p in moved if p.before is not None]
        results = await asyncio.gather(*(back(p) for p in known), return_exceptions=True)
        still = unknown + [p.name for p, r in zip(known, results, strict=True) if r is not None]
        if still:
            outcome.outcome = "torn"
            outcome.reason = f"{why}; could not switch back {', '.join(sorted(still))}"
        else:
            outcome.outcome = "reverted"
            outcome.reason = f"{why}; switched back {', '.join(p.name for p in moved)}"

    # -- intents a writer left unfinished -----------------------------------------------------

    async def resume(self, intent: SwitchIntent, parts: Sequence[Part]) -> GroupOutcome:
        """Re-issue every switch of an unfinished intent (switches are idempotent)."""
        group = Group(intent.group, list(parts))
        outcome = GroupOutcome(intent.group, [p.name for p in parts], "ready")
        await self.switch_group(intent.bundle, group, outcome)
        return outcome

    # -- garbage collection -------------------------------------------------------------------

    async def collect(
        self, bundle: str, spec: TargetSpec, keep: set[str], known: Sequence[str]
    ) -> list[str]:
        """Delete the staged copies of ``spec`` that are not in ``keep``; the hexes deleted.

        ``known`` are the hexes the state store remembers (for backends that cannot list)."""
        stager = self.stager(spec)
        if not stager.stages:
            return []
        try:
            listed = await stager.staged(bundle)
            gone = sorted(set(listed if listed is not None else known) - keep)
            if gone:
                await stager.drop(bundle, gone)
        except SourceError:
            return []  # collected next time; a staged copy left over serves nothing
        return gone


def _carried(spec: TargetSpec, found: bytes | parsing.Document) -> dict[str, str]:
    """The component digests of what ``spec`` carries in a document (bytes are parsed)."""
    try:
        doc = found if isinstance(found, parsing.Document) else parsing.parse(found)
    except parsing.InvalidDocument as exc:
        manifest = _manifest(found)
        if manifest is not None:  # a device manifest (design §13): compared whole
            return {"manifest": canonical_digest(manifest)}
        raise TransientError(f"staged copy is not a rendered bundle: {exc}") from None
    return {k: d for k, d in doc.digests.items() if spec.carries_component(k)}


def _manifest(found: bytes | parsing.Document) -> dict[str, Any] | None:
    """A device manifest's document (None: ``found`` is not one)."""
    if isinstance(found, parsing.Document):
        return None
    try:
        doc = json.loads(found)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) and doc.get("schema") == MANIFEST_SCHEMA else None
