"""Pyodide under Node has no IndexedDB: pyidb falls back to its engine and says so once."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from runners.fixtures import ensure_built

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def seen() -> dict:
    built = ensure_built()  # rebuilds a stale wheel, or fails saying to run ./build.sh
    out = subprocess.run(["node", str(ROOT / "tests/runners/node_fallback.mjs"),
                          *map(str, built.wheels)],
                         capture_output=True, text=True, timeout=180, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_default_factory_is_the_engine_and_warns_once(seen: dict) -> None:
    assert seen["url"] == "memory:" and seen["same_factory"]
    assert [w[0] for w in seen["warnings"]] == ["FallbackWarning"]
    assert "IndexedDB is not reachable" in seen["warnings"][0][1]
    assert seen["stored"] == {"ok": True}


def test_browser_factory_fails_with_a_clear_error(seen: dict) -> None:
    err = seen["browser_error"]
    assert err is not None, "factory('browser') silently worked without IndexedDB"
    assert err["name"] == "InvalidStateError" and "memory:" in err["message"]
