"""The README's Python examples run as written (the quickstart on CPython)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def _run_block(marker: str, tmp_path: Path) -> list[str]:
    """Run the first README python block containing ``marker``; its stdout lines."""
    script = tmp_path / "example.py"
    script.write_text(next(b for b in _python_blocks() if marker in b))
    env = {"PYTHONPATH": str(README.parent), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         cwd=tmp_path, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip().splitlines()


def test_quickstart_runs_as_written(tmp_path: Path) -> None:
    lines = _run_block("asyncio.run(main())", tmp_path)
    assert lines[-1] == "1"
    assert "'seen': True" in lines[0] and "'ship pyidb'" in lines[0]


def test_wrapping_example_runs_as_written(tmp_path: Path) -> None:
    assert _run_block("pyidb.wrap(", tmp_path) == ["['notes'] [('put', 'notes'), ('delete', 'notes')]",
                     "vetoed: no object store named 'secrets'"]


def test_reliability_example_runs_as_written(tmp_path: Path) -> None:
    assert _run_block("LockTimeoutError", tmp_path)[-1] == "[]"
    assert (tmp_path / "reliable.db").exists()
