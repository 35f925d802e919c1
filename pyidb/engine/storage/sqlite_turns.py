"""Fair turns at an SQLite file's write lock, across processes.

SQLite has no queue for its write lock: a waiting writer polls (its busy handler sleeps up to
100 ms between tries), so a process that commits and at once begins again wins nearly every
race, and the poller can wait until its timeout (issue 9: 5 s waits, lock errors). Here a writer
must hold its *turn*, an ``flock`` on ``FILE-lock``, while it asks SQLite for the write lock, and
gives the turn back as soon as it has the lock. The process that just committed must then wait
for its turn behind the one already waiting, so two processes alternate; with more, each waiter
sits in the kernel's queue for the turn and is woken the moment it is free (no sleeping poller
loses every race).

A turn is only waited for in a helper thread (``flock`` cannot time out and must never block the
event loop): the engine polls :meth:`Turns.try_take` cheaply, a blocking caller waits on an
event the thread sets (:meth:`Turns.wait`). Without ``fcntl`` (Windows) or a
writable directory there are no turns and the engine polls SQLite's lock as before.
"""

from __future__ import annotations

import os
import threading

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows, some Pyodide builds
    fcntl = None  # type: ignore[assignment]


class Turns:
    """This storage's place in the queue for the write lock: ``turns.try_take()``."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._mutex = threading.Lock()
        self._held = False  # this storage holds the turn
        self._waiting = False  # a helper thread is blocked in flock for it
        self._wanted = False  # a writer of this storage is waiting for the write lock
        self._closed = False
        self._got = threading.Event()  # set when the helper thread takes the turn for us

    @classmethod
    def for_file(cls, path: str) -> Turns | None:
        """Turns for the SQLite file ``path``, or None where they cannot be had."""
        if fcntl is None:
            return None
        try:
            return cls(os.open(path + "-lock", os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644))
        except OSError:
            return None

    def try_take(self) -> bool:
        """True if this storage holds the turn now; else queue for it (once) and return False."""
        with self._mutex:
            if self._held:
                return True
            self._wanted = True
            if self._waiting:
                return False
            self._got.clear()
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                self._waiting = True
            else:
                self._held = True
                return True
        threading.Thread(target=self._wait, name="pyidb-sqlite-turn", daemon=True).start()
        return False

    def _wait(self) -> None:
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX)  # in the kernel's queue until the turn is free
        except OSError:
            with self._mutex:
                self._waiting = False
            return
        with self._mutex:
            self._waiting = False
            if self._wanted and not self._closed:
                self._held = True
                self._got.set()
                return
            self._let_go()  # nobody here wants it any more: pass it on at once

    def wait(self, timeout: float) -> bool:
        """Block up to ``timeout`` seconds for the turn (no polling: the helper thread wakes
        us); False if it did not come, and then this storage is out of the line again."""
        if self.try_take() or (self._got.wait(timeout) and self.try_take()):
            return True
        self.release()
        return False

    def release(self) -> None:
        """Give the turn back (the write lock is taken, or the writer stopped waiting)."""
        with self._mutex:
            self._wanted = False
            if self._held:
                self._held = False
                self._let_go()

    def _let_go(self) -> None:
        if self._closed:
            os.close(self._fd)  # closing the last descriptor drops the lock too
        else:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        with self._mutex:
            if self._closed:
                return
            self._closed = True
            self._wanted = self._held = False
            if not self._waiting:  # else the helper thread closes it when flock returns
                os.close(self._fd)
