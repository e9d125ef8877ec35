"""A lineage's sequences, computed only as far as they are read (design §6's classification
looks at the newest revisions first and stops at the first match)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import overload


class Subsets(Sequence[str | None]):
    """``Lineage.subsets``, computed newest first and only as far as someone looks.

    A target in sync looks at none; one a revision behind at the first few; only a drifted one
    (its content found nowhere) walks the whole history. Revisions are read in growing batches,
    each a few batched git calls.
    """

    FIRST = 8  #: revisions in the first batch; each next one doubles

    def __init__(self, compute: Callable[[list[str]], list[str | None]], shas: list[str]) -> None:
        self._compute = compute
        self._shas = shas
        self._done: list[str | None] = []

    def _fill(self, upto: int) -> None:
        """Compute every subset up to index ``upto`` (inclusive)."""
        while len(self._done) <= upto < len(self._shas):
            start = len(self._done)
            self._done.extend(self._compute(self._shas[start : start + max(self.FIRST, start)]))

    def __len__(self) -> int:
        return len(self._shas)

    def __iter__(self) -> Iterator[str | None]:
        """Every subset, newest first, a batch computed at a time (the whole walk when run to
        the end: a drifted target's)."""
        at = 0
        while at < len(self._shas):
            self._fill(at)
            yield from self._done[at:]
            at = len(self._done)

    @overload
    def __getitem__(self, index: int) -> str | None: ...

    @overload
    def __getitem__(self, index: slice) -> list[str | None]: ...

    def __getitem__(self, index: int | slice) -> str | list[str | None] | None:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        self._fill(index)
        return self._done[index]

    def index(self, value: object, start: int = 0, stop: int | None = None) -> int:
        """The first (newest) index holding ``value``: the walk stops there. Computed a batch at
        a time and searched by ``list.index`` (fifty drifted targets sharing one lineage each
        search the whole of it)."""
        end = len(self) if stop is None else min(stop, len(self))
        at = max(start, 0)
        while at < end:
            self._fill(at)
            top = min(end, len(self._done))
            try:
                return self._done.index(value, at, top)  # type: ignore[arg-type]
            except ValueError:
                at = top
        raise ValueError(value)


class Arrivals(Sequence[float]):
    """``Lineage.times``, computed only for the revisions a lagging target asks about."""

    def __init__(self, arrived: Callable[[str], float], shas: list[str]) -> None:
        self._arrived = arrived
        self._shas = shas

    def __len__(self) -> int:
        return len(self._shas)

    @overload
    def __getitem__(self, index: int) -> float: ...

    @overload
    def __getitem__(self, index: slice) -> list[float]: ...

    def __getitem__(self, index: int | slice) -> float | list[float]:
        if isinstance(index, slice):
            return [self._arrived(sha) for sha in self._shas[index]]
        return self._arrived(self._shas[index])
