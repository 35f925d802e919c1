"""The conformance suite inside Pyodide in Chromium, on the browser's real IndexedDB.

One pytest test per conformance test id; the suite runs once per session in one page
(tests/runners/browser_runner.html -> tests/runners/pyodide_runner.py with ``pyidb.factory("browser")``)
and each test here reports its result. Tests marked ``engine_only`` are skipped with their reason.
The page's console goes to test-artifacts/browser/chromium-conformance.log.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Error as PlaywrightError
from runners.fixtures import (  # noqa: F401  (fixtures are used by name)
    assert_result,
    browser_context,
    built_site,
    chromium,
    conformance_ids,
    pyodide_page,
    pytest_id,
    run_conformance_suite,
    run_python,
    site_server,
    unreported_ids,
)
from runners.serve import SiteServer

import pyidb

IDS = conformance_ids()


@pytest.fixture(scope="module")  # the scope of `chromium` (see runners/fixtures.py)
def chromium_results(chromium: Any, site_server: SiteServer,  # noqa: F811
                     request: pytest.FixtureRequest) -> dict[str, dict[str, Any]]:
    return run_conformance_suite(chromium, site_server, request, Path(__file__).name, "chromium")


@pytest.mark.parametrize("test_id", IDS, ids=[pytest_id(i) for i in IDS])
def test_conformance(test_id: str, chromium_results: dict[str, dict[str, Any]]) -> None:
    assert_result(chromium_results, test_id, "chromium")


def test_runner_found_no_test_the_host_missed(chromium_results: dict[str, dict[str, Any]]) -> None:
    """Every test the page ran has a pytest test here (none would pass or fail unseen)."""
    assert not unreported_ids(chromium_results, IDS)


def test_pyodide_page_fixture_runs_python_on_the_installed_wheel(pyodide_page: Any) -> None:  # noqa: F811
    """The fixture other helpers use: Pyodide in Chromium with pyidb imported from the wheel."""
    version, platform, location = run_python(
        pyodide_page, "import sys, pyidb\n[pyidb.__version__, sys.platform, pyidb.__file__]")
    assert version == pyidb.__version__
    assert platform == "emscripten"
    assert "site-packages" in location
    with pytest.raises(PlaywrightError, match="ZeroDivisionError"):
        run_python(pyodide_page, "1 / 0")


def test_site_server_types_overlays_and_confinement(tmp_path: Path) -> None:
    """Module scripts need their MIME type; overlays win over site/ but never escape their folder."""
    site, live = tmp_path / "site", tmp_path / "live"
    (site / "tests").mkdir(parents=True)
    live.mkdir()
    (site / "a.mjs").write_text("export {}")
    (site / "tests" / "old.py").write_text("site")
    (site / "tests" / "only_in_site.py").write_text("fallback")
    (live / "old.py").write_text("live")
    (tmp_path / "secret.txt").write_text("no")
    server = SiteServer(site, overlays={"/tests/": live}).start()
    try:
        def get(path: str) -> tuple[int, str, str]:
            try:
                with urllib.request.urlopen(server.url(path)) as r:
                    return r.status, r.headers["Content-Type"], r.read().decode()
            except urllib.error.HTTPError as e:
                return e.code, "", ""

        assert get("a.mjs")[:2] == (200, "text/javascript")
        assert get("tests/old.py")[2] == "live"
        assert get("tests/only_in_site.py")[2] == "fallback"
        assert get("tests/../../secret.txt")[0] == 404
        assert get("tests/%2e%2e/%2e%2e/secret.txt")[0] == 404
    finally:
        server.stop()
