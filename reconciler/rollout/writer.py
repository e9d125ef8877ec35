"""One writer per environment (design §10): ``converge``, ``rollback``, the steering commands
and the daemon's leader write targets and state only while they hold the environment's lease.

The lease's fencing token guards every write: the state store refuses a write whose token is
no longer the lease's, and :meth:`Writer.check` stops target writes the moment the writer was
pre-empted (a rollback takes the lease with a higher token). A pre-empted writer writes nothing
more, says so, and releases — which tells the rollback its in-flight writes are done.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import socket
import time
from collections.abc import Callable

from ..state.interface import Deposed, Lease, StateStore

#: Seconds a command's lease lasts past each renewal (a step renews it).
COMMAND_TTL = 60.0
#: How long a fence check is trusted before the store is asked again (a pre-empting rollback
#: waits for the pre-empted writer's release anyway, so a write that slips through this window
#: is still verified after it).
CHECK_EVERY = 0.25


def holder_name(role: str, user: str | None = None) -> str:
    """Who holds a lease, for people: ``converge by alice@host (pid 4242)``."""
    try:
        who = user or getpass.getuser()
    except (KeyError, OSError):
        who = "unknown user"
    return f"{role} by {who}@{socket.gethostname()} (pid {os.getpid()})"


class Writer:
    """A lease on one environment, held for as long as this process writes it."""

    def __init__(
        self,
        store: StateStore,
        environment: str,
        holder: str,
        ttl: float = COMMAND_TTL,
        monotonic: Callable[[], float] = time.monotonic,
        min_left: float = 0.0,
    ) -> None:
        self.store = store
        #: A write starts only while at least this many seconds of the lease are left (the
        #: daemon: one interval), measured from the last renewal on this process's clock.
        self.min_left = min_left
        self.environment = environment
        self.holder = holder
        self.ttl = ttl
        self.lease: Lease | None = None
        self._monotonic = monotonic
        self._checked_at = float("-inf")
        self._renewed_at = float("-inf")
        self._deposed: Deposed | None = None

    def take(self, *, preempt: bool = False) -> Lease:
        """Take the lease (``preempt``: even from a live holder); fence the store with it."""
        self.lease = self.store.acquire(self.environment, self.holder, self.ttl, preempt=preempt)
        self._deposed = None
        self._checked_at = self._renewed_at = self._monotonic()
        self.store.fence(self.lease)
        return self.lease

    def keep(self) -> float:
        """Renew the lease for another TTL; :class:`Deposed` when another writer took it."""
        lease = self._held()
        try:
            left = self.store.renew(lease)
        except Deposed as exc:
            self._deposed = exc
            raise
        self._checked_at = self._renewed_at = self._monotonic()
        return left

    def holds(self) -> bool:
        """The lease is held and, on this process's clock, cannot have run out since its last
        renewal (a writer cut off from its store longer than the TTL no longer leads)."""
        return self.lease is not None and self._monotonic() - self._renewed_at < self.ttl

    def check(self) -> None:
        """Before a target write: still the holder? Sticky: once deposed, always deposed."""
        if self._deposed is not None:
            raise self._deposed
        lease = self._held()
        now = self._monotonic()
        if now - self._renewed_at > self.ttl - self.min_left:
            raise Deposed(lease.environment, lease.token, None, "too little of the lease is left")
        if now - self._checked_at < CHECK_EVERY:
            return
        info = self.store.lease(self.environment)
        if info is None or info.token != lease.token:
            self._deposed = Deposed(self.environment, lease.token, info.holder if info else None)
            raise self._deposed
        self._checked_at = now

    def wait_for_previous(
        self, timeout: float, sleep: Callable[[float], None] = time.sleep
    ) -> bool:
        """After a pre-emption: wait until the pre-empted writer said it stopped, or its lease ran
        out (it can start no write after that), at most ``timeout`` seconds. True when it is so."""
        lease = self._held()
        deadline = self._monotonic() + timeout
        while True:
            info = self.store.lease(self.environment)
            if info is None or info.token != lease.token or info.previous_done:
                return True
            if self._monotonic() >= deadline:
                return False
            sleep(0.05)

    def give_up(self) -> None:
        """Release the lease (a pre-empted writer's release says it stopped); never raises."""
        lease, self.lease = self.lease, None
        self.store.fence(None)
        if lease is not None:
            # The store may be what failed: the lease then simply expires.
            with contextlib.suppress(Exception):
                self.store.release(lease)

    def _held(self) -> Lease:
        if self.lease is None:
            raise RuntimeError("the environment's lease is not held")
        return self.lease
