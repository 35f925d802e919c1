"""The shim that ships in the wheel (pyidb/browser/*.js) is the one js_shim/ shows (links, no copies)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", ["shim.js", "codec.js"])
def test_js_shim_links_to_the_packaged_file(name: str) -> None:
    entry = ROOT / "js_shim" / name
    packaged = ROOT / "pyidb" / "browser" / name
    assert entry.is_symlink(), f"js_shim/{name} must be a link to pyidb/browser/{name}, not a copy"
    assert entry.resolve() == packaged.resolve()


def test_shim_source_wraps_the_codec_module() -> None:
    from pyidb.browser.shim import shim_source

    text = shim_source()
    assert "\nexport " not in text  # ES module exports would not evaluate in run_js
    assert "return { fromWire, toWire };" in text
    assert text.startswith("(function (codec) {")


def test_the_wheel_ships_the_shim_files() -> None:
    from importlib import resources

    for name in ("shim.js", "codec.js"):
        assert resources.files("pyidb.browser").joinpath(name).read_text(encoding="utf-8")


def test_not_available_outside_pyodide() -> None:
    import pyidb
    import pyidb.browser

    assert pyidb.browser.is_available() is False
    with pytest.raises(pyidb.InvalidStateError, match="memory:"):
        pyidb.factory("browser")


def test_event_kinds_have_the_same_names_and_letters_on_both_sides() -> None:
    """shim.js's EVENT and shim.py's Event name the same one-letter event kinds, and the shim
    dispatches no kind by a bare letter (a kind Python would not recognise)."""
    import re

    from pyidb.browser.shim import Event

    js = (ROOT / "pyidb" / "browser" / "shim.js").read_text(encoding="utf-8")
    block = js[js.index("const EVENT = Object.freeze({"):]
    block = block[: block.index("});")]
    in_js = dict(re.findall(r'^\s+([A-Z_]+): "(\w)",', block, flags=re.MULTILINE))
    in_py = {k: v for k, v in vars(Event).items() if k.isupper()}
    assert in_js == in_py and len(in_py) == 9
    assert not re.search(r'dispatch\([^,]+, "', js)
