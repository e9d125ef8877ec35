"""Known secret values, and the one scrubber every output path goes through (design §11).

Every resolved ``${VAR}`` value and every webhook URL is *remembered* here, process-wide, where
it is resolved (:func:`reconciler.variables.expand`, the inventory loader, the alert sender).
Whatever leaves the process — stdout and stderr, logs, alerts, ``/status``, the job summary — or
reaches state is passed through :func:`scrub` (text) or :func:`scrub_data` (JSON-like data)
first, so a credential a target reflects back (``{"schema": "Bearer sk-..."}``) reads ``***``.

Rules:

- Values shorter than :data:`MIN_LENGTH` characters are not remembered: masking ``"abc"`` or
  ``"1"`` everywhere would mangle output, and a value that short is no credential worth the name.
  A whole webhook URL and a URL's ``user:password@`` part are always remembered, whatever their
  length; a URL password alone (and a URL's path, e.g. a Slack webhook's secret path) is
  remembered under the same length rule as any value.
- Each value is also remembered as it reads inside JSON (escaped, and ``\\uXXXX``-escaped),
  inside a ``repr()`` and percent-encoded, so scrubbing serialized text catches it too.
- Overlapping and nested values are masked as their union (``abcdef`` and ``defghi`` in
  ``abcdefghi`` leave ``***``): every known value is found, longest first at each position.
- A piece of a secret cut short by an ellipsis (``sk-live-12…``; ``…``, ``...`` or JSON's
  ``\\u2026``), at least :data:`MIN_PIECE` characters of its start before the ellipsis or of its
  end after it, is masked as well: shortened summaries must not leak most of a long token.

Pure: the standard library only. With nothing known, scrubbing is one attribute test; otherwise
one search of a trie-shaped pattern (or, in a long text, a ``str in`` scan per form while there
are few), rebuilt only when a new value is remembered: about 1.4 ms for the 630 KB JSON report of
a 1000-target audit. The registry only grows in a process; :func:`forget_all` is for tests.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import quote, urlsplit

#: What a masked value reads as.
MASK = "***"
#: Values shorter than this are not remembered (see the module's rules).
MIN_LENGTH = 6
#: The shortest piece of a secret next to an ellipsis that is masked.
MIN_PIECE = 4
#: How shortened text marks the cut (raw, ASCII, and as JSON escapes ``…``).
ELLIPSES = ("…", "...", "\\u2026")


#: In a text longer than :data:`_LONG`, up to :data:`_FEW` known forms are each looked for with
#: ``str in`` first (C's fast search beats a regular expression on a large text); otherwise one
#: pattern (a trie) finds any of them.
_FEW = 16
_LONG = 4096


class _Known:
    """An immutable snapshot of the known forms, and what finds them fast."""

    __slots__ = ("cut_heads", "cut_tails", "few", "heads", "pattern", "values")

    def __init__(self, values: frozenset[str]) -> None:
        self.values = values
        self.few = tuple(values) if len(values) <= _FEW else None
        #: Finds, at each position, the longest known form starting there.
        self.pattern = re.compile(_trie(values)) if values else None
        #: A form's first MIN_PIECE characters -> the forms (longer than that).
        self.heads: dict[str, list[str]] = {}
        for value in values:
            if len(value) > MIN_PIECE:
                self.heads.setdefault(value[:MIN_PIECE], []).append(value)
        self.cut_heads = self.cut_tails = None
        if self.heads:
            # Candidates only, checked one by one: a form's start with an ellipsis close enough
            # after it, and an ellipsis with a form's last characters close enough after it.
            reach = max(map(len, values))
            mark = "(?:" + "|".join(map(re.escape, ELLIPSES)) + ")"
            tails = _trie({value[-MIN_PIECE:] for value in values if len(value) > MIN_PIECE})
            self.cut_heads = re.compile(
                f"(?:{_trie(self.heads)})(?=.{{0,{reach}}}?{mark})", re.DOTALL
            )
            self.cut_tails = re.compile(f"{mark}(?=.{{0,{reach}}}?(?:{tails}))", re.DOTALL)

    def first(self, text: str) -> re.Match[str] | None:
        """The first known form in ``text`` (the longest of those starting there)."""
        assert self.pattern is not None
        if self.few is not None and len(text) > _LONG and not any(v in text for v in self.few):
            return None
        return self.pattern.search(text)


def _trie(words: Iterable[str]) -> str:
    """One regular expression matching any of ``words``, the longest at a position first.

    Built as a trie (``abc`` and ``abd``: ``ab(?:c|d)``), so matching follows one path instead
    of trying every word in turn.
    """
    root: dict[str, Any] = {}
    for word in words:
        node = root
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}  # a word ends here

    def emit(node: dict[str, Any]) -> str:
        out: list[str] = []
        keys = [k for k in node if k]
        while len(keys) == 1 and "" not in node:  # a run of single children is a literal
            out.append(re.escape(keys[0]))
            node = node[keys[0]]
            keys = [k for k in node if k]
        if keys:
            alternatives = "|".join(re.escape(k) + emit(node[k]) for k in sorted(keys))
            # Greedy: a longer word is preferred to one ending here.
            out.append(f"(?:{alternatives})?" if "" in node else f"(?:{alternatives})")
        return "".join(out)

    return emit(root)


_lock = threading.Lock()
_known = _Known(frozenset())  # replaced whole (one reference swap) when a value is added


def _variants(value: str) -> set[str]:
    """``value`` as it may read in output: raw, stripped, JSON-escaped, repr'd, percent-encoded."""
    forms = {value, value.strip()}
    forms.add(json.dumps(value, ensure_ascii=False)[1:-1])
    forms.add(json.dumps(value)[1:-1])
    forms.add(repr(value)[1:-1])
    forms.add(quote(value, safe=""))
    return forms


def remember(value: str | None, *, always: bool = False) -> None:
    """Scrub ``value`` from every output from now on (values under :data:`MIN_LENGTH` are not
    remembered, unless ``always``). Cheap when it is known already."""
    if not value:
        return
    known = _known
    if value in known.values:
        return
    if not always and len(value.strip()) < MIN_LENGTH:
        return
    forms = {f for f in _variants(value) if f and (always or len(f) >= MIN_LENGTH)}
    _add(forms)


def remember_url(url: str | None) -> None:
    """Remember a URL that is a credential (a webhook's, a store's): the whole URL always, its
    ``user:password@`` part always, the password alone and its path and query by the length
    rule."""
    if not url:
        return
    remember(url, always=True)
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return
    at = parts.netloc.rfind("@")
    if at >= 0:
        remember(parts.netloc[: at + 1], always=True)
    remember(password)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    if path.strip("/"):
        remember(path)


def _add(forms: Iterable[str]) -> None:
    global _known
    with _lock:
        values = _known.values | set(forms)
        if values != _known.values:
            _known = _Known(frozenset(values))


def known() -> frozenset[str]:
    """Every remembered form (for tests and diagnostics; never print it)."""
    return _known.values


def forget_all() -> None:
    """Forget every value (tests only: the registry is process-wide)."""
    global _known
    with _lock:
        _known = _Known(frozenset())


def spans(text: str) -> list[tuple[int, int]]:
    """The ``(start, end)`` ranges of ``text`` to mask, sorted and merged (empty: none)."""
    known = _known
    if known.pattern is None or not text:
        return []
    found: list[tuple[int, int]] = []
    match = known.first(text)
    while match is not None:  # from every start: a form beginning inside another one too
        found.append(match.span())
        match = known.pattern.search(text, match.start() + 1)
    if known.cut_heads is not None and ("…" in text or "..." in text or "\\u2026" in text):
        found.extend(_pieces(text, known))
    if not found:
        return []
    found.sort()
    merged = [found[0]]
    for start, end in found[1:]:
        last_start, last_end = merged[-1]
        if start <= last_end:  # overlapping or touching: one mask
            merged[-1] = (last_start, max(last_end, end))
        else:
            merged.append((start, end))
    return merged


def _pieces(text: str, known: _Known) -> Iterator[tuple[int, int]]:
    """Ranges of a form's start cut short by an ellipsis, or of its end right after one."""
    assert known.cut_heads is not None and known.cut_tails is not None
    match = known.cut_heads.search(text)
    while match is not None:
        at = match.start()
        for value in known.heads[text[at : at + MIN_PIECE]]:
            k = _common_prefix(text, at, value)
            if MIN_PIECE <= k < len(value) and text.startswith(ELLIPSES, at + k):
                yield (at, at + k)
        match = known.cut_heads.search(text, at + 1)
    match = known.cut_tails.search(text)
    while match is not None:
        start = match.end()
        for value in known.values:
            tail = value[-MIN_PIECE:]
            found = text.find(tail, start, start + len(value))
            while found >= 0 and len(value) > MIN_PIECE:
                k = found + MIN_PIECE - start
                if k < len(value) and text.startswith(value[-k:], start):
                    yield (start, start + k)
                found = text.find(tail, found + 1, start + len(value))
        match = known.cut_tails.search(text, match.start() + 1)


def _common_prefix(text: str, at: int, value: str) -> int:
    """How many characters of ``value``'s start ``text`` holds from ``at``."""
    k = 0
    limit = min(len(value), len(text) - at)
    while k < limit and text[at + k] == value[k]:
        k += 1
    return k


def scrub(text: str) -> str:
    """``text`` with every known secret value replaced by :data:`MASK`."""
    if _known.pattern is None:
        return text
    found = spans(text)
    if not found:
        return text
    out: list[str] = []
    at = 0
    for start, end in found:
        out.append(text[at:start])
        out.append(MASK)
        at = end
    out.append(text[at:])
    return "".join(out)


def scrub_data(data: Any) -> Any:
    """A copy of JSON-like ``data`` (dicts, lists, tuples, strings, scalars) with every string,
    dict keys included, scrubbed; ``data`` itself when nothing is known."""
    known = _known
    if known.pattern is None:
        return data
    search = known.pattern.search

    def clean(text: str) -> str:
        # Most strings hold nothing: one search, no call of scrub().
        if search(text) is None and "…" not in text and "..." not in text and "\\u2026" not in text:
            return text
        return scrub(text)

    def walk(item: Any) -> Any:
        if isinstance(item, str):
            return clean(item)
        if isinstance(item, dict):
            return {clean(k) if isinstance(k, str) else k: walk(v) for k, v in item.items()}
        if isinstance(item, list):
            return [walk(x) for x in item]
        if isinstance(item, tuple):
            return tuple(walk(x) for x in item)
        return item

    return walk(data)
