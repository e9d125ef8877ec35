"""What a cold history works out while git writes its log (:func:`~.listing.walk`).

``git log --raw`` over a long history keeps git busy for tens of milliseconds on one core, while
its reader, on the other, parses what it writes. Meanwhile: the desired revision is rendered
(every audit needs it, and its shape says which component each file holds), and between chunks
of the log each file blob the log names, once the feed has read it, is digested into its part
(:meth:`~.parts.Parts.ahead`, kept in the index). A lineage then finds its parts done, and a
later audit finds them in the index.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from .inputs import InputRenders
from .listing import Line
from .rendered import Rendered

#: Modes of a regular file in a raw diff.
_BLOBS = ("100644", "100755")


class Meanwhile:
    """:class:`~.listing.Ahead` for one bundle's history at its desired revision."""

    def __init__(
        self, inputs: InputRenders, desired: str, stored: Callable[[], Rendered | None]
    ) -> None:
        self.inputs = inputs
        self.desired = desired
        self.stored = stored  #: the desired render kept on disk by an earlier audit, if any
        #: The desired render for a target without an overlay (None: it does not render, or
        #: :meth:`start` was not called).
        self.rendered: Rendered | None = None
        self._started = False
        self._kinds: dict[str, str] = {}  #: a file's path -> the kind of component it holds
        self._queue: deque[tuple[str, str, str]] = deque()  #: (kind, blob id, path) to digest

    def start(self) -> None:
        if self._started:
            return
        self._started = True
        inputs = self.inputs
        self.rendered = self.stored() or inputs.render(self.desired, None)  # kept: no parse
        shape = inputs.shape(inputs.base(self.desired, None, None), None)
        if self.rendered is not None and shape is not None:
            self._kinds = {path: key.partition("/")[0] for key, path in shape.files}

    def lines(self, lines: list[Line]) -> None:
        kinds = self._kinds
        if not kinds:
            return
        for _, mode, _, blob, path in lines:
            kind = kinds.get(path)
            if kind is not None and mode in _BLOBS:
                self._queue.append((kind, blob, path))

    def __call__(self) -> bool:
        queue = self._queue
        if not queue:
            return False
        kind, blob, path = queue[0]
        if not self.inputs.parts.ahead(kind, blob, path):
            return False  # the feed has not read it yet
        queue.popleft()
        return True
