"""The daemon's one handle on its store: opened on first use, closed when it fails, opened again
(reconnected) at the next use. Everything built on it — the driver, the writer — keeps this
handle, never the store behind it, so nothing ever holds a closed store.

SQLite and PostgreSQL alike: a store that failed (a lock held past the busy timeout, a server
restart, a file replaced by ``state reset``) is dropped whole and opened afresh.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from .interface import Lease, StateStore, StateUnavailable


class OwnedStore:
    """A :class:`~reconciler.state.interface.StateStore` that reopens the store it owns."""

    def __init__(self, opener: Callable[[], StateStore]) -> None:
        self._opener = opener
        self._store: StateStore | None = None
        self._fence: Lease | None = None
        self._written = 0.0  #: write seconds of the stores already dropped
        self.where = ""  #: the store's, once opened
        self.created = False  #: a store this handle opened was new (missing before)

    def current(self) -> StateStore:
        """The open store, opened now when there is none (raises :class:`StateUnavailable`)."""
        if self._store is None:
            store = self._opener()
            store.fence(self._fence)  # the lease fences the new store as it did the old one
            self.where, self.created = store.where, self.created or store.created
            self._store = store
        return self._store

    def drop(self) -> None:
        """Close the store (it failed); the next use opens it again."""
        store, self._store = self._store, None
        if store is not None:
            self._written += getattr(store, "write_seconds", 0.0)
            with contextlib.suppress(Exception):
                store.close()

    @property
    def write_seconds(self) -> float:
        live = getattr(self._store, "write_seconds", 0.0) if self._store is not None else 0.0
        return self._written + live

    def replaced(self) -> bool:
        """The open store's file was replaced under it (``state reset``): it is stale."""
        check = getattr(self._store, "replaced", None)
        return bool(check and check())

    def fence(self, lease: Lease | None) -> None:
        self._fence = lease
        if self._store is not None:
            self._store.fence(lease)

    def close(self) -> None:
        self.drop()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        method = getattr(self.current(), name)
        if not callable(method):
            return method

        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return method(*args, **kwargs)
            except StateUnavailable:
                self.drop()
                raise

        return call
