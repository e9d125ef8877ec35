"""The pieces of the Markdown pages the docs tests read: fenced code blocks and headings."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"

_FENCE = re.compile(r"^(\s*)(`{3,})([\w-]*)[^\n]*$")


@dataclass(frozen=True)
class Block:
    """One fenced code block: where it is, its language, and its text."""

    page: str  #: relative to the repo root, e.g. docs/bundle.md
    line: int  #: of the opening fence, 1-based
    lang: str
    text: str

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"


def pages() -> list[Path]:
    """Every page whose samples are checked: the README and the site's pages."""
    return [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]


def blocks(path: Path) -> list[Block]:
    """The fenced code blocks of ``path`` (indented fences too), in order."""
    found: list[Block] = []
    lines = path.read_text().splitlines()
    page = str(path.relative_to(ROOT))
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        indent, fence, lang = opening.groups()
        body: list[str] = []
        index += 1
        while index < len(lines) and not lines[index].strip().startswith(fence):
            body.append(lines[index][len(indent) :])
            index += 1
        found.append(Block(page, index - len(body), lang.lower(), "\n".join(body) + "\n"))
        index += 1
    return found


def headings(path: Path) -> list[str]:
    """The headings of ``path`` as a reader sees them (outside code blocks, entities decoded)."""
    out: list[str] = []
    in_code = False
    for line in path.read_text().splitlines():
        if line.strip().startswith("```"):
            in_code = not in_code
        elif not in_code and re.match(r"^#{1,6} ", line):
            out.append(html.unescape(line.lstrip("#").strip()))
    return out


def skew_sample(page: str) -> str:
    """The ``reconciler skew`` output a page shows (``make demo``'s first step), without its
    ``$`` line, commit ids as ``(<sha>)``: the demo writes its history relative to today."""
    for block in blocks(ROOT / page):
        if block.text.startswith("$ reconciler skew --env production\n"):
            return without_shas(block.text.split("\n", 1)[1])
    raise AssertionError(f"{page} shows no skew sample")


def without_shas(text: str) -> str:
    return re.sub(r"\(([0-9a-f]{7})\)", "(<sha>)", text)
