"""Prompt differences: text changes summarised by lines, whitespace-only changes as cosmetic, and
template variables (``{{var}}``, ``{var}``, Jinja ``{{ var }}``) added or removed as breaking.
"""

from __future__ import annotations

import difflib
import functools
import re
from typing import Any

from .change import Kind, Severity
from .values import Delta, walk

# Anything that makes Jinja's parser worth running.
_JINJA_MARKERS = re.compile(r"\{\{|\{%|\{#")
# Jinja/Mustache segments, removed before looking for single-brace fields.
_JINJA_SEGMENT = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)
# Fallback when Jinja cannot parse the text (Mustache sections such as {{#items}}).
_DOUBLE = re.compile(r"\{\{-?\s*[#/^&>!]?\s*([A-Za-z_]\w*)[^{}]*?\}\}")
# A str.format field: {name}, {name.attr}, {name[0]}, {name!r}, {name:>10}. No spaces, and it
# must start with an identifier, so JSON in a prompt ({"a": 1}, { "a": 1 }) is not a variable.
_SINGLE = re.compile(r"(?<!\{)\{([A-Za-z_]\w*)(?:[.\[][^{}\s]*)?(?:![rsa])?(?::[^{}\s]*)?\}(?!\})")


def _lf(text: str) -> str:
    """``text`` with every line ending made ``\\n``."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def template_variables(text: str) -> frozenset[str]:
    """The template variables ``text`` uses, each written as it is used: ``{{name}}`` or ``{name}``.

    Double-brace variables come from Jinja's own parser (top-level names, so ``{{ user.name }}``
    is ``{{user}}``); single-brace ``str.format`` fields from a regular expression.
    """
    found: set[str] = set()
    rest = text
    if _JINJA_MARKERS.search(text):
        found.update(f"{{{{{name}}}}}" for name in _jinja_names(text))
        rest = _JINJA_SEGMENT.sub(" ", text)
    found.update(f"{{{m.group(1)}}}" for m in _SINGLE.finditer(rest))
    return frozenset(found)


@functools.cache
def _jinja() -> Any:
    """One Jinja environment, built on first use (only prompts with ``{{``/``{%``/``{#`` pay)."""
    import jinja2

    return jinja2.Environment(autoescape=False)


def _jinja_names(text: str) -> set[str]:
    import jinja2
    from jinja2 import meta

    try:
        ast = _jinja().parse(text)
    except jinja2.TemplateError:
        return {m.group(1) for m in _DOUBLE.finditer(text)}
    return set(meta.find_undeclared_variables(ast))


def normalized_lines(text: str) -> list[str]:
    """The lines of ``text`` with line endings, trailing whitespace and trailing blank lines
    removed: two texts with equal normalized lines differ only cosmetically."""
    lines = [line.rstrip() for line in _lf(text).split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def line_endings(text: str) -> str:
    """The line-ending style of ``text``: ``LF``, ``CRLF``, ``CR``, ``mixed`` or ``none``."""
    crlf = text.count("\r\n")
    cr = text.count("\r") - crlf
    lf = text.count("\n") - crlf
    styles = [name for name, count in (("CRLF", crlf), ("CR", cr), ("LF", lf)) if count]
    if not styles:
        return "none"
    return styles[0] if len(styles) == 1 else "mixed"


def line_stats(old: list[str], new: list[str]) -> tuple[int, int, int]:
    """How many lines were (added, removed, changed) going from ``old`` to ``new``."""
    # Trim the common head and tail first: edits are usually local, and SequenceMatcher is
    # quadratic on long runs of repeated lines.
    head = 0
    while head < min(len(old), len(new)) and old[head] == new[head]:
        head += 1
    tail = 0
    while tail < min(len(old), len(new)) - head and old[-1 - tail] == new[-1 - tail]:
        tail += 1
    old, new = old[head : len(old) - tail], new[head : len(new) - tail]
    added = removed = changed = 0
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "insert":
            added += j2 - j1
        elif tag == "delete":
            removed += i2 - i1
        elif tag == "replace":
            both = min(i2 - i1, j2 - j1)
            changed += both
            added += (j2 - j1) - both
            removed += (i2 - i1) - both
    return added, removed, changed


def _lines(count: int, verb: str) -> str:
    return f"{count} line{'' if count == 1 else 's'} {verb}"


def _bytes_delta(old: str, new: str) -> str:
    delta = len(new.encode("utf-8")) - len(old.encode("utf-8"))
    return f"{delta:+d} bytes"


def _whitespace_summary(old: str, new: str) -> str:
    parts = []
    old_style, new_style = line_endings(old), line_endings(new)
    if old_style != new_style:
        parts.append(f"line endings {old_style} -> {new_style}")
    if _lf(old) != _lf(new):
        parts.append("trailing whitespace")
    if not parts:  # the same mixed endings, in other places
        parts.append("line endings")
    return f"prompt whitespace only: {', '.join(parts)} ({_bytes_delta(old, new)})"


def diff_text(old: str, new: str, path: str = "text") -> list[Delta]:
    """The changes from prompt text ``old`` to ``new``."""
    if old == new:
        return []
    out: list[Delta] = []
    old_vars, new_vars = template_variables(old), template_variables(new)
    for name in sorted(old_vars - new_vars):
        summary = f"template variable removed: {name}"
        out.append(Delta(path, Kind.REMOVED, Severity.BREAKING, summary))
    for name in sorted(new_vars - old_vars):
        summary = f"template variable added: {name}"
        out.append(Delta(path, Kind.ADDED, Severity.BREAKING, summary))
    old_lines, new_lines = normalized_lines(old), normalized_lines(new)
    if old_lines == new_lines:
        out.append(Delta(path, Kind.CHANGED, Severity.COSMETIC, _whitespace_summary(old, new)))
        return out
    added, removed, changed = line_stats(old_lines, new_lines)
    counts = ((added, "added"), (removed, "removed"), (changed, "changed"))
    parts = [_lines(count, verb) for count, verb in counts if count]
    summary = f"prompt text changed: {', '.join(parts)} ({_bytes_delta(old, new)})"
    lines = changed_lines(old_lines, new_lines)
    out.append(Delta(path, Kind.CHANGED, Severity.BEHAVIORAL, summary, lines=lines))
    return out


def changed_lines(old: list[str], new: list[str], limit: int = 12) -> tuple[str, ...]:
    """The changed lines as ``- old`` / ``+ new``, at most ``limit`` of them (then ``...``)."""
    shown: list[str] = []
    for line in difflib.unified_diff(old, new, lineterm="", n=0):
        if line.startswith(("---", "+++", "@@")):
            continue
        if len(shown) == limit:
            shown.append("...")
            break
        shown.append(f"{line[0]} {line[1:]}")
    return tuple(shown)


def diff_prompt(old: Any, new: Any) -> list[Delta]:
    """The changes of a ``prompt/<name>`` component (``{"text": ...}``, maybe more keys)."""
    if not (isinstance(old, dict) and isinstance(new, dict)):
        return walk(old, new, "", Severity.BEHAVIORAL)
    out: list[Delta] = []
    old_text, new_text = old.get("text"), new.get("text")
    if isinstance(old_text, str) and isinstance(new_text, str):
        out.extend(diff_text(old_text, new_text))
        old = {k: v for k, v in old.items() if k != "text"}
        new = {k: v for k, v in new.items() if k != "text"}
    out.extend(walk(old, new, "", Severity.BEHAVIORAL))
    return out
