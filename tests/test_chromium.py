"""The conformance suite inside Pyodide in Chromium, on the browser's real IndexedDB.

One pytest test per conformance test id; the suite runs once per session in one page
(tests/runners/browser_runner.html -> tests/runners/pyodide_runner.py with ``pyidb.factory("browser")``)
and each test here reports its result. Tests marked ``engine_only`` are skipped with their reason.
The page's console goes to test-artifacts/browser/chromium-conformance.log.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from runners.fixtures import (  # noqa: F401  (fixtures are used by name)
    ARTIFACTS,
    SUITE_TIMEOUT_S,
    TEST_TIMEOUT_S,
    assert_result,
    built_site,
    chromium,
    conformance_ids,
    open_logged_context,
    open_pyodide_page,
    pytest_id,
    selected_ids,
    site_server,
    suite_dir,
    unreported_ids,
)
from runners.serve import SiteServer

IDS = conformance_ids()


@pytest.fixture(scope="session")
def chromium_results(chromium: Any, site_server: SiteServer,  # noqa: F811
                     request: pytest.FixtureRequest) -> dict[str, dict[str, Any]]:
    context = open_logged_context(chromium, ARTIFACTS / "browser" / "chromium-conformance.log")
    try:
        page = open_pyodide_page(context, site_server)
        modules = sorted(p.name for p in (suite_dir() / "conformance").glob("*.py"))
        options = {"modules": modules, "select": selected_ids(request, Path(__file__).name),
                   "expected": IDS, "timeout": TEST_TIMEOUT_S}
        # Start the run without awaiting it in evaluate (which has no timeout), then wait for it.
        page.evaluate("""opts => { window.pyidbTest.runSuite(opts).catch(err => {
            window.__PYIDB_SUITE_ERROR__ = String(err && err.stack ? err.stack : err); }); }""",
                      options)
        page.wait_for_function("window.__PYIDB_RESULTS__ || window.__PYIDB_SUITE_ERROR__",
                               timeout=SUITE_TIMEOUT_S * 1000)
        error = page.evaluate("window.__PYIDB_SUITE_ERROR__ || null")
        if error:
            pytest.fail(f"the Chromium runner failed: {error}", pytrace=False)
        info = page.evaluate("window.__PYIDB_READY__")
        results = json.loads(page.evaluate("window.__PYIDB_RESULTS__"))
        (ARTIFACTS / "chromium-results.json").write_text(
            json.dumps({"ready": info, "results": results}, indent=1))
        return {r["id"]: r for r in results}
    finally:
        context.close()


@pytest.mark.parametrize("test_id", IDS, ids=[pytest_id(i) for i in IDS])
def test_conformance(test_id: str, chromium_results: dict[str, dict[str, Any]]) -> None:
    assert_result(chromium_results, test_id, "chromium")


def test_runner_found_no_test_the_host_missed(chromium_results: dict[str, dict[str, Any]]) -> None:
    """Every test the page ran has a pytest test here (none would pass or fail unseen)."""
    assert not unreported_ids(chromium_results, IDS)
