"""Child process for tests/test_sqlite_crash.py: writes transactions until it is SIGKILLed.

``python tests/crash_writer.py PATH loop PAIRS`` commits transaction after transaction, each
putting PAIRS related pairs in tree 1, one marker in tree 2 and the counter in tree 3, and prints
the transaction number only after commit() returned. ``... PATH hold PAIRS`` writes one
transaction, prints "holding" and waits, uncommitted, to be killed.
"""

from __future__ import annotations

import sys
import time

from pyidb.engine.storage.sqlite import SQLiteStorage


def tx_key(i: int) -> bytes:
    return i.to_bytes(4, "big")


def pair_key(i: int, j: int) -> bytes:
    return tx_key(i) + j.to_bytes(2, "big")


def pair_value(i: int, j: int) -> bytes:
    # Big enough that a transaction spans many pages: a kill can land inside the WAL append.
    return (b"%d.%d|" % (i, j)) * 150


def write_transaction(s: SQLiteStorage, i: int, pairs: int) -> None:
    for j in range(pairs):
        s.put(1, pair_key(i, j), pair_value(i, j))
    s.put(2, tx_key(i), b"tx %d" % i)
    s.put(3, b"counter", str(i).encode())


def main(path: str, mode: str, pairs: int) -> None:
    s = SQLiteStorage(path)
    raw = s.get(3, b"counter")
    i = int(raw) if raw is not None else 0
    if mode == "hold":
        s.begin_write()
        write_transaction(s, i + 1, pairs)
        print("holding", flush=True)
        time.sleep(60)
        return
    while True:
        i += 1
        s.begin_write()
        write_transaction(s, i, pairs)
        s.commit()
        print(i, flush=True)  # only once commit() returned: this transaction is durable


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
