"""Storage off the event loop: a storage whose calls wait on the network runs them on a thread.

A storage that sets ``blocking_io = True`` (see :mod:`.storage.base`) gets one worker thread per
factory, as ``aiosqlite`` gives each connection one: a transaction's requests (and its commit) run
there one at a time, and each result comes back to the event loop as a loop callback, where the
request's :class:`~pyidb.sync_future.SyncFuture` completes. The awaiting code therefore still
resumes inside the completion, with its transaction active (the transaction-lifetime rule holds),
while other tasks of the process run during the network wait.

The few calls the engine makes from the loop thread itself (catalog writes of ``upgrade``,
``begin_write``, ``rollback``) go through :class:`LockedStorage`, which takes the same lock as the
worker's calls, so the storage is never used by two threads at once::

    offload = Offload()
    storage = LockedStorage(network_storage, offload.lock)
    offload.submit(loop, lambda: storage.get(1, b"k"), lambda result, error: ...)
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["LockedStorage", "Offload"]


class Offload:
    """One worker thread that runs storage calls in order and reports back on the loop.

    A plain thread reading a :class:`queue.SimpleQueue` (not a ``ThreadPoolExecutor``: its
    ``Future``, condition and semaphore per call cost ~10 µs, a fifth of a point get on a local
    PostgreSQL). Started on the first call; :meth:`close` lets it finish what was queued.
    """

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._queue: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._start_lock = threading.Lock()

    def submit(self, loop: asyncio.AbstractEventLoop, fn: Callable[[], Any],
               done: Callable[[Any, BaseException | None], None]) -> None:
        """Run ``fn()`` on the worker; then ``done(result, error)`` as a callback of ``loop``."""

        lock = self.lock

        def run() -> None:
            try:
                with lock:  # the whole call: the loop thread never sees half of it
                    result, error = fn(), None
            except BaseException as exc:  # delivered to the loop, raised there
                result, error = None, exc
            try:
                loop.call_soon_threadsafe(done, result, error)
            except RuntimeError:
                pass  # the loop is closed: nobody waits for this any more

        if self._closed:
            # The factory was closed: no worker any more. Run the call here; the closed storage
            # refuses it at once, and the waiting request gets that error instead of no answer.
            run()
            return
        if self._thread is None:
            self._start()
        self._queue.put(run)

    def _start(self) -> None:
        with self._start_lock:
            if self._thread is None:
                thread = threading.Thread(target=self._work, name="pyidb-storage", daemon=True)
                thread.start()
                self._thread = thread

    def _work(self) -> None:
        get = self._queue.get
        while True:
            job = get()
            if job is None:
                return
            job()

    def run(self, loop: asyncio.AbstractEventLoop, fn: Callable[[], Any]) -> asyncio.Future[Any]:
        """``await offload.run(loop, fn)``: ``fn()`` on the worker, for code outside a
        transaction (loading a database's catalog, listing databases)."""
        fut: asyncio.Future[Any] = loop.create_future()

        def done(result: Any, error: BaseException | None) -> None:
            if fut.cancelled():
                return
            if error is None:
                fut.set_result(result)
            else:
                fut.set_exception(error)

        self.submit(loop, fn, done)
        return fut

    def close(self) -> None:
        """Stop the worker once the calls queued so far have run (waits for them)."""
        self._closed = True
        thread = self._thread
        if thread is not None:
            self._queue.put(None)
            if thread is not threading.current_thread():
                thread.join()


class LockedStorage:
    """A storage (or read view) whose every call holds ``lock``; scans are read out under it."""

    def __init__(self, inner: Any, lock: threading.RLock) -> None:
        self._inner = inner
        self._lock = lock

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._inner, name)
        if not callable(value):
            return value
        lock = self._lock

        def locked(*args: Any, **kwargs: Any) -> Any:
            with lock:
                return value(*args, **kwargs)

        # Kept: the next call finds it without __getattr__ (a bulk write makes ~3 calls per
        # record). Only methods: plain attributes (in_write, closed) are read afresh each time.
        self.__dict__[name] = locked
        return locked

    def scan(self, *args: Any, **kwargs: Any) -> Iterator[tuple[bytes, bytes]]:
        with self._lock:  # an iterator must not read on after the lock is released
            return iter(list(self._inner.scan(*args, **kwargs)))

    def begin_read(self) -> Any:
        with self._lock:
            view = self._inner.begin_read()
        return self if view is self._inner else LockedStorage(view, self._lock)

    def end_read(self, view: Any) -> None:
        with self._lock:
            self._inner.end_read(view._inner if isinstance(view, LockedStorage) else view)
