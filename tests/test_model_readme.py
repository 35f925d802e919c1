"""The README's model-client example runs as written and prints what its comments say."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def test_model_client_example_runs_as_written(tmp_path: Path) -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    example = next(b for b in blocks if "from pyidb.model import" in b and "asyncio.run(demo())" in b)
    script = tmp_path / "model_example.py"
    script.write_text(example)
    env = {"PYTHONPATH": str(README.parent), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         cwd=tmp_path, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    printed = out.stdout.strip().splitlines()
    promised = re.findall(r"# (\S.*)$", example.split("async def demo")[1], flags=re.M)
    promised = [p.split(" (")[0] if p.startswith("walk") else p for p in promised
                if not p.startswith("all or nothing")]
    assert printed == promised, (printed, promised)
