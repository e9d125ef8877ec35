"""TLS trust read at the first handshake that needs it, not when aiohttp is imported.

aiohttp builds two client contexts as it is imported (the verifying one that ``ssl=True``
uses, and the one for ``ssl=False``), and each reads the system's CA store
(``set_default_verify_paths``: about 25 ms each with a distribution's bundle). That was 50 ms of
every run, though a fleet of ``http://`` targets never shakes hands. :func:`deferred_trust`
imports aiohttp with those reads put off: each context it builds becomes a
:class:`DeferredTrust`, which reads the store just before its first handshake. An ``https``
target is verified exactly as before, against the same store; only the moment of reading moves.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class DeferredTrust(ssl.SSLContext):
    """An SSL context whose ``set_default_verify_paths`` runs before its first handshake.

    Only :func:`deferred_trust` makes one, from a context whose read of the store it put off.
    """

    _trusted = False

    def _trust(self) -> None:
        # Unlocked: two first handshakes on two threads both read the store (harmless); none
        # shakes hands before a read has finished.
        if not self._trusted:
            _READ_STORE(self)
            self._trusted = True

    def wrap_socket(self, *args: Any, **kwargs: Any) -> Any:
        self._trust()
        return super().wrap_socket(*args, **kwargs)

    def wrap_bio(self, *args: Any, **kwargs: Any) -> Any:  # asyncio's TLS transports
        self._trust()
        return super().wrap_bio(*args, **kwargs)


#: The real read of the default CA store (a method of ``ssl.SSLContext``'s C base).
_READ_STORE = ssl.SSLContext.set_default_verify_paths


def _put_off(context: ssl.SSLContext) -> None:
    """``set_default_verify_paths`` while :func:`deferred_trust` is open: read it later."""
    if type(context) is ssl.SSLContext:
        context.__class__ = DeferredTrust
    else:  # a subclass of someone else's: read now, as asked
        _READ_STORE(context)


@contextmanager
def deferred_trust() -> Iterator[None]:
    """While open, contexts that ask for the default CA store read it at their first handshake.

    Open it only around an import (``import aiohttp``): the patch is process-wide while open.
    """
    own = vars(ssl.SSLContext).get("set_default_verify_paths")  # None: the C base's
    ssl.SSLContext.set_default_verify_paths = _put_off  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        if own is None:
            del ssl.SSLContext.set_default_verify_paths
        else:
            ssl.SSLContext.set_default_verify_paths = own  # type: ignore[method-assign]
