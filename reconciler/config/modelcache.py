"""Validated configuration kept by the hash of its text, on disk and in a long-lived process.

The same bytes are never parsed twice: an entry is keyed by the text and by a digest of the code
that validates it, so it is read back only by the code that wrote it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ..statedir import code_digest
from .validation import load

if TYPE_CHECKING:
    from pydantic import BaseModel

M = TypeVar("M", bound="BaseModel")
#: The code that validates what is cached: an entry is read back only by the code that wrote it.
VALIDATOR = ("config", "model")


def cache_file(name: str, text: str, cache: Path | None) -> Path | None:
    """Where the validated form of ``text`` (model ``name``) is cached, keyed by the text and
    by the code that validates it."""
    if cache is None:
        return None
    key = hashlib.sha256(f"{code_digest(*VALIDATOR)}\0{name}\0{text}".encode()).hexdigest()
    return cache / f"{name.lower()}-{key[:32]}.json"


def load_cached(model: type[M], text: str, file: str, cache: Path | None = None) -> M:
    """Like :func:`load`, remembering the validated model by the text's hash under ``cache``.

    Parsing a large inventory still costs (about 0.15 s for 1000 targets with libyaml, 1 s with
    the round trip); the same bytes are never parsed twice.
    """
    from pydantic import ValidationError

    path = cache_file(model.__name__, text, cache)
    if path is not None:
        # A long-lived process (the daemon) loads the same inventory at every step: one model
        # serves them all (models are never changed in place), not a new one per step.
        kept = _VALIDATED.get((model, path))
        if kept is not None:
            _VALIDATED.move_to_end((model, path))
            return kept  # type: ignore[return-value]
    done: M | None = None
    if path is not None and path.is_file():
        with contextlib.suppress(ValidationError, OSError):  # stale or damaged: parse again
            done = model.model_validate_json(path.read_bytes())
    if done is None:
        done = load(model, text, file)
        _store(path, done.model_dump_json(by_alias=True).encode())
    if path is not None:
        _VALIDATED[(model, path)] = done
        while len(_VALIDATED) > KEEP_VALIDATED:
            _VALIDATED.popitem(last=False)
    return done


#: Validated models this process loaded, by model and cache entry (newest last).
_VALIDATED: OrderedDict[tuple[type, Path], BaseModel] = OrderedDict()
KEEP_VALIDATED = 16


def load_cached_data(
    model: Callable[[], type[BaseModel]], name: str, text: str, file: str, cache: Path | None
) -> Any:
    """The validated form of ``text`` as plain JSON data (``model_dump(by_alias=True)``).

    Read from the cache when this text was validated before: no YAML parser, no pydantic, not
    even the model's import (``model`` is called only to validate). Otherwise validated (one
    :class:`ConfigError` when it is not valid) and cached.
    """
    import orjson

    path = cache_file(name, text, cache)
    if path is not None:
        try:
            data = orjson.loads(path.read_bytes())
            if isinstance(data, dict):
                return data
        except (OSError, ValueError):
            pass  # absent or damaged: validated again
    raw = load(model(), text, file).model_dump_json(by_alias=True).encode()
    _store(path, raw)
    return orjson.loads(raw)


def _store(path: Path | None, raw: bytes) -> None:
    """Write a cache entry atomically; failing to write a cache fails nothing."""
    if path is None:
        return
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(raw)
        os.replace(tmp, path)
