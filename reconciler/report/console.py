"""The terminal every human-facing format prints to (rich), with every known secret masked.

Secrets are masked twice (design §11): in each string and ``Text`` before rich lays it out (a
long token folded across two lines of a table cell would escape a scrub of the finished lines),
and in the finished text written to the terminal, for anything a renderable draws by itself.
"""

from __future__ import annotations

import os
import sys
from functools import cache
from typing import IO, TYPE_CHECKING, Any, cast

from ..display import visible
from ..secrets import MASK, scrub, spans

if TYPE_CHECKING:
    from rich.console import Console


class ScrubbingFile:
    """A text stream that masks known secrets in everything written to stdout or stderr.

    It looks the stream up at each write, as rich does, so a stream swapped in later (a test's
    capture) is still the one written to, and rich's own redirection (``Live``) is seen through.
    """

    def __init__(self, stderr: bool = False) -> None:
        self._stderr = stderr

    @property
    def stream(self) -> Any:
        stream = sys.stderr if self._stderr else sys.stdout
        return getattr(stream, "rich_proxied_file", stream)  # never write into rich's own proxy

    def write(self, text: str) -> int:
        self.stream.write(scrub(text))
        return len(text)

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        return bool(self.stream.isatty())

    def fileno(self) -> int:
        return int(self.stream.fileno())

    @property
    def encoding(self) -> str:
        return str(getattr(self.stream, "encoding", None) or "utf-8")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


def console(stderr: bool = False) -> Console:
    """A rich console; in a pipe or a CI log, 160 columns so tables do not fold at 80."""
    out = _scrubbing_console()(
        file=cast(IO[str], ScrubbingFile(stderr)), stderr=stderr, highlight=False, soft_wrap=False
    )
    if not out.is_terminal and "COLUMNS" not in os.environ:
        out.width = 160
    return out


@cache
def _scrubbing_console() -> type[Console]:
    """A rich ``Console`` that masks secrets in strings and ``Text`` before laying them out
    (rich is imported only when something prints through it)."""
    from rich.console import Console
    from rich.text import Text

    class ScrubbingConsole(Console):
        def render_str(self, text: str, **kwargs: Any) -> Text:
            return super().render_str(scrub(visible(text)), **kwargs)

        def render(self, renderable: Any, options: Any = None) -> Any:
            if isinstance(renderable, Text):
                renderable = _scrub_text(renderable)
            return super().render(renderable, options)

    return ScrubbingConsole


def _scrub_text(text: Any) -> Any:
    """``text`` (a rich ``Text``) with known secrets masked, its styles kept around them."""
    found = spans(text.plain)
    if not found:
        return text
    out = text.blank_copy()
    at = 0
    for start, end in found:
        if start > at:
            out.append_text(text[at:start])
        out.append(MASK)
        at = end
    if at < len(text.plain):
        out.append_text(text[at:])
    return out
