"""A stop request a signal handler can make safely.

``threading.Event.set()`` takes the event's lock, a plain (not re-entrant) ``Lock``; a handler
runs in the main thread between two bytecodes, so a SIGTERM that lands while the main thread is
inside ``Event.wait()`` (holding that lock for an instant) waits for itself for ever — the daemon
at ``--interval 0s``, waiting thousands of times a second, hung once in 47 signals. Here the
handler only sets a flag and writes a byte to a pipe (the self-pipe trick): no lock, and the
loop's ``select`` wakes at once.
"""

from __future__ import annotations

import contextlib
import os
import select


class Stop:
    """Set once (by a signal, or by :meth:`set` from any thread); :meth:`wait` wakes at once."""

    def __init__(self) -> None:
        self._pipe: tuple[int, int] | None = None  #: opened by the first wait
        self._set = False

    def set(self, *_: object) -> None:
        """Ask the loop to stop (safe in a signal handler: no lock is taken)."""
        self._set = True
        pipe = self._pipe
        if pipe is not None:
            with contextlib.suppress(OSError):  # a full pipe already wakes the loop
                os.write(pipe[1], b"\0")

    def is_set(self) -> bool:
        return self._set

    def wait(self, timeout: float) -> bool:
        """Sleep up to ``timeout`` seconds, less when stopped; whether it is stopped."""
        if self._pipe is None:
            read, write = os.pipe()
            os.set_blocking(read, False)
            os.set_blocking(write, False)
            self._pipe = (read, write)
        if not self._set:  # a signal from here on writes to the pipe: select wakes at once
            with contextlib.suppress(OSError, ValueError):
                select.select([self._pipe[0]], [], [], max(timeout, 0.0))
            with contextlib.suppress(OSError):
                while os.read(self._pipe[0], 512):
                    pass
        return self._set

    def close(self) -> None:
        pipe, self._pipe = self._pipe, None
        for fd in pipe or ():
            with contextlib.suppress(OSError):
                os.close(fd)
