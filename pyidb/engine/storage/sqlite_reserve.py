"""Disk space kept aside so that deleting records still works on a full disk.

In WAL mode every write, a delete too, appends pages to the ``-wal`` file; on a full disk that
append fails, so a program could not delete records to make room (issue 9). The storage keeps
``FILE-reserve``, a file of :data:`RESERVE_BYTES` really allocated on disk (once the database
outgrows :data:`KEEP_FROM_BYTES`). When a write fails
because the disk is full, the reserve is emptied at once, so the writes that follow (deleting
records, typically) have that much room; after a later successful commit it is allocated
again if the disk has room for it beyond what the database needs.

>>> reserve = Reserve("/data/notes.db"); reserve.keep(); ...; reserve.release()
"""

from __future__ import annotations

import os

#: Room in the WAL for deleting thousands of records (a delete writes only the pages it changes).
RESERVE_BYTES = 1 << 20
#: Kept only beside a database (file + WAL) at least this big: small ones (tests, caches) go
#: without, and deleting from them would free little anyway.
KEEP_FROM_BYTES = 1 << 19


class Reserve:
    """``FILE-reserve`` for the SQLite file ``path``: :meth:`keep` and :meth:`release`."""

    def __init__(self, path: str) -> None:
        self.path = path + "-reserve"
        self._database = path
        self.kept = False

    def keep(self) -> None:
        """Allocate the reserve if it is not; quietly stay without it when there is no room."""
        if self.kept or _size(self._database) + _size(self._database + "-wal") < KEEP_FROM_BYTES:
            return
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
        except OSError:
            return
        try:
            allocate = getattr(os, "posix_fallocate", None)
            if allocate is None:  # macOS, Windows: no real allocation, no reserve
                return
            try:
                allocate(fd, 0, RESERVE_BYTES)
                self.kept = True
            except OSError:  # no room (now): free what a partial allocation took
                os.ftruncate(fd, 0)
        finally:
            os.close(fd)

    def release(self) -> None:
        """Give the reserved space to the disk (a write just failed for lack of space)."""
        self.kept = False
        try:
            os.truncate(self.path, 0)
        except OSError:
            pass


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0
