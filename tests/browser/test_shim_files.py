"""The shim that ships in the wheel (pyidb/browser/*.js) is the one in js_shim/ (the source)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", ["shim.js", "codec.js"])
def test_packaged_copy_is_identical(name: str) -> None:
    source = (ROOT / "js_shim" / name).read_text(encoding="utf-8")
    packaged = (ROOT / "pyidb" / "browser" / name).read_text(encoding="utf-8")
    assert packaged == source, (
        f"pyidb/browser/{name} differs from js_shim/{name}: run "
        f"`cp js_shim/{name} pyidb/browser/{name}` (js_shim/ is the source)"
    )


def test_shim_source_wraps_the_codec_module() -> None:
    from pyidb.browser.shim import shim_source

    text = shim_source()
    assert "\nexport " not in text  # ES module exports would not evaluate in run_js
    assert "return { fromWire, toWire };" in text
    assert text.startswith("(function (codec) {")


def test_not_available_outside_pyodide() -> None:
    import pyidb
    import pyidb.browser

    assert pyidb.browser.is_available() is False
    with pytest.raises(pyidb.InvalidStateError, match="memory:"):
        pyidb.factory("browser")
