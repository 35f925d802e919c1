"""The README's examples for pyidb.keyval, pyidb.storage and export/import run as written and
print what their comments say."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"

EXPECTED = {
    "from pyidb import keyval": ["dark", "11", "[('a', 11), ('b', 2), ('theme', 'dark')]", "[1]",
                                 "{'volume': 7}"],
    "pyidb.storage.estimate": ["True", "True", "False"],
    "pyidb.export_database": ["1/1", "True", "2"],
}


def _block(marker: str) -> str:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    found = [b for b in blocks if marker in b and "asyncio.run(main())" in b]
    assert len(found) == 1, f"one README example with {marker!r}"
    return found[0]


@pytest.mark.parametrize("marker", list(EXPECTED))
def test_readme_example_prints_what_it_says(marker: str, tmp_path: Path) -> None:
    script = tmp_path / "example.py"
    script.write_text(_block(marker))
    env = {"PYTHONPATH": str(README.parent), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         cwd=tmp_path, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == EXPECTED[marker]
    # the comments in the README say the same
    for line in EXPECTED[marker]:
        assert f"# {line}" in _block(marker)
