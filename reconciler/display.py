"""Text as it is shown (a terminal, the page, a markdown PR comment): characters that would
change how the rest of the line reads — Unicode bidirectional controls (U+202E turns text
around), C0/C1 controls such as the terminal's ESC — are shown as their ``\\uXXXX`` escapes."""

from __future__ import annotations

import re

#: Bidirectional controls (embeddings, overrides, isolates, marks) and every control character
#: but tab and newline.
_HIDDEN = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\x00-\x08\x0b-\x1f\x7f-\x9f]")


def visible(text: str) -> str:
    """``text`` with each hidden control shown as ``\\uXXXX`` (JSON reads it back the same)."""
    if _HIDDEN.search(text) is None:
        return text
    return _HIDDEN.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
