"""The conformance suite in Chromium through ``pyidb.wrap`` with a pass-through handler
("browser+wrapped" in tests/runners/pyodide_runner.py): the wrapper must keep the browser's
answers, errors and transaction lifetime (results delivered inside the IDB success event).

The tests/conformance modules only (not the model client's suite), in a page (not a worker):
about ten seconds. The memory engine runs it wrapped in tests/conformance ("wrapped").
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
    pytest_id,
    run_conformance_suite,
    site_server,
    suite_modules,
    unreported_ids,
)
from runners.serve import SiteServer

ONLY = [p.name for p in suite_modules("conformance")]
IDS = [i for i in conformance_ids() if i.split("::")[0] in ONLY]


@pytest.fixture(scope="module")  # the scope of `chromium` (see runners/fixtures.py)
def wrapped_results(chromium: Any, site_server: SiteServer,  # noqa: F811
                    request: pytest.FixtureRequest) -> dict[str, dict[str, Any]]:
    return run_conformance_suite(chromium, site_server, request, Path(__file__).name,
                                 "chromium-wrapped", url="browser+wrapped", only=ONLY)


@pytest.mark.parametrize("test_id", IDS, ids=[pytest_id(i) for i in IDS])
def test_conformance_wrapped(test_id: str, wrapped_results: dict[str, dict[str, Any]]) -> None:
    assert_result(wrapped_results, test_id, "chromium-wrapped")


def test_runner_found_no_test_the_host_missed(wrapped_results: dict[str, dict[str, Any]]) -> None:
    """Every test the page ran has a pytest test here (none would pass or fail unseen)."""
    assert len(IDS) > 200
    assert not unreported_ids(wrapped_results, IDS)
