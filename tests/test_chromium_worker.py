"""The conformance suite inside Pyodide in a module Web Worker in Chromium, on real IndexedDB.

Where JupyterLite kernels and PyScript workers run Python: no ``window``, no DOM, IndexedDB on
the worker's global. The page tests/runners/browser_runner.html?worker=1 starts
tests/runners/worker_runner.mjs and relays; one pytest test per conformance test id, as in
test_chromium.py. The page's console goes to test-artifacts/browser/chromium-worker-conformance.log.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from runners.fixtures import (  # noqa: F401  (fixtures are used by name)
    assert_result,
    browser_context,
    built_site,
    chromium,
    conformance_ids,
    open_pyodide_page,
    pytest_id,
    run_conformance_suite,
    run_python,
    site_server,
    unreported_ids,
)
from runners.serve import SiteServer

IDS = conformance_ids()


@pytest.fixture(scope="module")  # the scope of `chromium` (see runners/fixtures.py)
def worker_results(chromium: Any, site_server: SiteServer,  # noqa: F811
                   request: pytest.FixtureRequest) -> dict[str, dict[str, Any]]:
    return run_conformance_suite(chromium, site_server, request, Path(__file__).name,
                                 "chromium-worker", worker=True)


@pytest.mark.parametrize("test_id", IDS, ids=[pytest_id(i) for i in IDS])
def test_conformance_in_worker(test_id: str, worker_results: dict[str, dict[str, Any]]) -> None:
    assert_result(worker_results, test_id, "chromium worker")


def test_worker_runner_found_no_test_the_host_missed(
        worker_results: dict[str, dict[str, Any]]) -> None:
    assert not unreported_ids(worker_results, IDS)


def test_python_runs_in_a_worker_on_the_browser_backend(browser_context: Any,  # noqa: F811
                                                        site_server: SiteServer) -> None:  # noqa: F811
    """The runner really is a worker (no window) and pyidb chose IndexedDB there, not memory."""
    page = open_pyodide_page(browser_context, site_server, worker=True)
    assert page.evaluate("window.__PYIDB_READY__.worker") is True
    scope, url = run_python(page, "import js, pyidb\n"
                                  "[js.self.constructor.name, pyidb.default_factory().url]")
    assert (scope, url) == ("DedicatedWorkerGlobalScope", "browser")
