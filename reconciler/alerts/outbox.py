"""Alerts off the step's critical path (design §15): a step hands its alerts to the outbox and goes
on; one background thread delivers them with :data:`~reconciler.alerts.send.QUEUED` bounds.

Each destination has its own bounded queue, delivered in order (a PagerDuty ``resolve`` never
overtakes its ``trigger``), so one receiver that is down delays no other. A full queue drops the
alert, counted as a failure like any other: :func:`failures` feeds
``reconciler_alert_failures_total{type}``.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import threading
from collections import Counter, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from ..model.alerting import AlertSpec
from .alert import Alert
from .send import NOW, QUEUED, Bounds, Failed, Poster, Sleep, deliver_one, label, routed, session

log = logging.getLogger(__name__)

#: Alerts waiting per destination before new ones are dropped (and counted as failures).
CAPACITY = 1000
#: Errors kept for the caller to read (:meth:`Outbox.take_errors`).
KEPT_ERRORS = 100
#: Seconds a process waits, on exit, for its queued alerts (retried as a command's own then).
EXIT_WAIT = 15.0

_failures: Counter[str] = Counter()
_failures_lock = threading.Lock()


def failures() -> dict[str, int]:
    """Alerts not delivered since the process started, by destination type."""
    with _failures_lock:
        return dict(_failures)


def _count(kind: str) -> None:
    with _failures_lock:
        _failures[kind] += 1


@dataclass(frozen=True)
class _Job:
    alert: Alert
    spec: AlertSpec
    where: str
    env: Mapping[str, str]
    public_url: str | None


class Outbox:
    """Queues per destination, drained by one event loop on a daemon thread (started lazily)."""

    def __init__(
        self,
        bounds: Bounds = QUEUED,
        *,
        capacity: int = CAPACITY,
        sleep: Sleep | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.bounds = bounds
        self.capacity = capacity
        self._sleep = sleep
        self._clock = clock
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._queues: dict[str, asyncio.Queue[_Job]] = {}
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._pending = 0
        self._errors: deque[tuple[str, str]] = deque(maxlen=KEPT_ERRORS)  #: (environment, error)
        self._posters: list[Poster] = []
        self._hurry: asyncio.Event | None = None  #: set: wait no more between retries

    def submit(
        self,
        alert: Alert,
        specs: Sequence[AlertSpec],
        env: Mapping[str, str],
        public_url: str | None = None,
    ) -> int:
        """Queue ``alert`` for each destination it is routed to; how many. Never blocks."""
        chosen = routed(alert, specs)
        if not chosen:
            return 0
        loop = self._started()
        with self._lock:
            self._pending += len(chosen)
        for number, spec in chosen:
            job = _Job(alert, spec, label(number, spec), dict(env), public_url)
            loop.call_soon_threadsafe(self._put, job)
        return len(chosen)

    def drain(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for every queued alert to be delivered or given up."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def hurry(self) -> None:
        """From now on retry as a command does (:data:`~reconciler.alerts.send.NOW`): a process
        about to exit waits seconds for a receiver that is down, not minutes."""
        loop = self._loop
        if loop is None:
            return

        def now() -> None:
            for poster in self._posters:
                poster.bounds = NOW
            if self._hurry is None:
                self._hurry = asyncio.Event()
            self._hurry.set()

        loop.call_soon_threadsafe(now)

    def take_errors(self, environment: str | None = None) -> list[str]:
        """Failed deliveries (of ``environment``'s alerts, or all) not taken yet
        (``"pagerduty 2: HTTP 503"``)."""
        with self._lock:
            taken = [e for e in self._errors if environment in (None, e[0])]
            kept = [e for e in self._errors if e not in taken]
            self._errors.clear()
            self._errors.extend(kept)
        return [error for _, error in taken]

    def close(self, timeout: float = 5.0) -> None:
        """Stop delivering (what is still queued is given up) and end the thread."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None:
            return

        async def stop() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        try:
            asyncio.run_coroutine_threadsafe(stop(), loop).result(timeout)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout)
            if not thread.is_alive():
                loop.close()
        self._queues.clear()

    # -- the delivering thread -----------------------------------------------------------------

    def _started(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                self._thread = threading.Thread(
                    target=self._loop.run_forever, name="alerts-outbox", daemon=True
                )
                self._thread.start()
            return self._loop

    def _put(self, job: _Job) -> None:
        queue = self._queues.get(job.where)
        if queue is None:
            queue = self._queues[job.where] = asyncio.Queue(self.capacity)
            asyncio.get_running_loop().create_task(self._deliver(queue))
        try:
            queue.put_nowait(job)
        except asyncio.QueueFull:
            self._done(job, "queue full; alert dropped")

    async def _deliver(self, queue: asyncio.Queue[_Job]) -> None:
        async with session() as client:
            poster = Poster(client, self.bounds, sleep=self._sleep or self._nap)
            if self._clock is not None:
                poster.clock = self._clock
            self._posters.append(poster)
            while True:
                job = await queue.get()
                try:
                    await deliver_one(
                        poster, job.alert, job.spec, job.where, job.env, job.public_url
                    )
                except Failed as exc:
                    self._done(job, str(exc))
                except Exception as exc:  # a bug must not stop this destination's queue
                    self._done(job, f"request failed ({type(exc).__name__})")
                else:
                    self._done(job, None)

    async def _nap(self, seconds: float) -> None:
        """Sleep between retries, cut short by :meth:`hurry`."""
        if self._hurry is None:
            self._hurry = asyncio.Event()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._hurry.wait(), seconds)

    def _done(self, job: _Job, problem: str | None) -> None:
        if problem is not None:
            _count(job.spec.type)
            error = f"{job.where}: {problem}"
            log.warning(
                "alert %s/%s %s not delivered: %s",
                job.alert.environment,
                job.alert.bundle,
                job.alert.condition,
                error,
            )
        with self._idle:
            if problem is not None:
                self._errors.append((job.alert.environment, f"{job.where}: {problem}"))
            self._pending -= 1
            self._idle.notify_all()


_shared: Outbox | None = None
_shared_lock = threading.Lock()


def shared() -> Outbox:
    """The process's outbox; on exit the process waits up to :data:`EXIT_WAIT` for it."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = Outbox()
            atexit.register(_flush, _shared)
        return _shared


def _flush(outbox: Outbox) -> None:
    import sys

    from ..secrets import scrub

    outbox.hurry()
    if not outbox.drain(EXIT_WAIT):
        print("error: alerts still queued at exit were not delivered", file=sys.stderr)
    outbox.close()
    for error in outbox.take_errors():
        print(scrub(f"error: alert not delivered: {error}"), file=sys.stderr)
