"""Crash safety at the storage level: SIGKILL a writing process at random moments, reopen, and
find every reported transaction whole, none partial, and at most one unreported one (the commit
in flight when the kill landed)."""

from __future__ import annotations

import importlib.util
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pyidb.engine.storage.sqlite import SQLiteStorage
from pyidb.errors import LockTimeoutError

HERE = Path(__file__).parent
WRITER = HERE / "crash_writer.py"
PAIRS = 20
ROUNDS = 5

_spec = importlib.util.spec_from_file_location("crash_writer", WRITER)
assert _spec is not None and _spec.loader is not None
cw = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cw)

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX SIGKILL")


def _spawn(path: Path, mode: str) -> subprocess.Popen[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE.parent), env.get("PYTHONPATH")]))
    return subprocess.Popen(
        [sys.executable, str(WRITER), str(path), mode, str(PAIRS)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _kill(proc: subprocess.Popen[str]) -> tuple[list[str], str]:
    """SIGKILL the child; the lines it printed before dying (drained after the kill) and stderr."""
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    # Read through the text wrappers (not communicate(), which reads the raw pipes): lines the
    # wrapper already buffered during readline() count as reported too.
    assert proc.stdout is not None and proc.stderr is not None
    out, err = proc.stdout.read(), proc.stderr.read()
    proc.stdout.close()
    proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL, f"the writer ended on its own: {err}"
    return out.split(), err


def _check_whole(path: Path, reported: int) -> int:
    """Assert the file holds transactions 1..n whole and nothing else; return n."""
    s = SQLiteStorage(str(path))
    try:
        raw = s.get(3, b"counter")
        n = int(raw) if raw is not None else 0
        assert reported <= n <= reported + 1, (
            f"{reported} transactions were reported committed but the file holds {n}"
        )
        for i in range(1, n + 1):
            lo, hi = cw.tx_key(i), cw.tx_key(i + 1)
            got = list(s.scan(1, lo, hi))
            assert got == [(cw.pair_key(i, j), cw.pair_value(i, j)) for j in range(PAIRS)], (
                f"transaction {i} is partial or wrong: {len(got)} of {PAIRS} pairs"
            )
            assert s.get(2, lo) == b"tx %d" % i
        # Nothing from a later (cut off) transaction: no stray pairs, markers or extra rows.
        assert s.count(1, cw.tx_key(n + 1), None) == 0, "pairs of an uncommitted transaction remain"
        assert s.count(2, cw.tx_key(n + 1), None) == 0
        assert s.count(1) == n * PAIRS and s.count(2) == n and s.count(3) == (1 if n else 0)
        return n
    finally:
        s.close()


def test_sigkill_mid_run_keeps_committed_transactions_whole(tmp_path: Path) -> None:
    path = tmp_path / "crash.db"
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    reported = 0
    for _ in range(ROUNDS):
        proc = _spawn(path, "loop")
        seen: list[str] = []
        try:
            for _ in range(rng.randint(1, 12)):
                line = proc.stdout.readline() if proc.stdout else ""
                assert line, f"writer died early (seed {seed}): {proc.stderr.read() if proc.stderr else ''}"
                seen.append(line)
            time.sleep(rng.uniform(0, 0.01))  # land somewhere inside a transaction or commit
        finally:
            lines, err = _kill(proc)
        # Every number the child printed (read before or drained after the kill) was committed.
        printed = [int(x) for x in [*seen, *lines]]
        assert printed == list(range(reported + 1, reported + 1 + len(printed))), err
        n = _check_whole(path, max([reported, *printed]))
        assert n >= reported, f"committed transactions were lost (seed {seed})"
        reported = n
    assert reported >= ROUNDS, f"the writer made no progress in some round (seed {seed})"


def test_sigkill_of_an_open_transaction_leaves_no_trace(tmp_path: Path) -> None:
    path = tmp_path / "hold.db"
    s = SQLiteStorage(str(path))
    s.begin_write()
    cw.write_transaction(s, 1, PAIRS)
    s.commit()
    s.close()
    proc = _spawn(path, "hold")
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        assert line.strip() == "holding", proc.stderr.read() if proc.stderr else ""
        # While the child holds the write lock, a second writer is refused (not interleaved).
        other = SQLiteStorage(str(path), timeout=0.05)
        with pytest.raises(LockTimeoutError, match="held the write lock"):
            other.begin_write()
        assert other.count(1) == PAIRS  # readers still see the last committed state
        other.close()
    finally:
        _kill(proc)
    assert _check_whole(path, 1) == 1  # transaction 2 was never committed: no trace of it
    after = SQLiteStorage(str(path), timeout=2)
    after.begin_write()  # the dead process's lock is gone
    after.rollback()
    after.close()
