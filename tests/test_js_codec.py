"""The JavaScript half of the value wire format (js_shim/codec.js), run with node's test runner."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed (./build.sh setup)")
def test_codec_js_node_suite() -> None:
    files = sorted(str(p) for p in (ROOT / "tests" / "js").glob("*.mjs"))
    assert files, "no JS test files found in tests/js"
    out = subprocess.run(["node", "--test", *files], capture_output=True, text=True, cwd=ROOT,
                         timeout=300)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert "# fail 0" in out.stdout and "# pass 0" not in out.stdout, out.stdout[-2000:]
