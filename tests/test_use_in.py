"""The README's "Use it in ..." examples (examples/), run as written in Chromium on real IndexedDB.

Each example stores a record when it loads and shows how many it holds; a reload must show one
more (the data lives in IndexedDB, not in the page). Every request must stay on the site: these
are the offline recipes (Pyodide's own packages staged by ``./build.sh site``).
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from runners.fixtures import browser_context, built_site, chromium, site_server  # noqa: F401

LOAD_TIMEOUT_S = 120


def open_example(context: Any, server: Any, page_path: str) -> tuple[Any, list[str], list[str]]:
    """The example page (still loading), the page errors it raises and requests off the site."""
    errors: list[str] = []
    outside: list[str] = []
    page = context.new_page()
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: r.url.startswith((server.base_url, "data:", "blob:"))
            or outside.append(r.url))
    page.goto(server.url(page_path))
    return page, errors, outside


def visits_after_load(page: Any, out: str, errors: list[str]) -> str:
    """``out``'s text once it reports the visits; fails at once on a page error."""
    locator = page.locator(out)
    deadline = time.monotonic() + LOAD_TIMEOUT_S
    while "visit(s)" not in (text := locator.inner_text()):
        assert errors == [], "\n".join(errors)
        assert time.monotonic() < deadline, f"{out} still says {text!r} after {LOAD_TIMEOUT_S} s"
        page.wait_for_timeout(100)  # poll the condition; a page error ends the wait early
    assert errors == [], "\n".join(errors)
    return text


@pytest.mark.parametrize(("example", "prefix"), [("page", ""), ("worker", "worker ")])
def test_page_and_module_worker_store_and_data_survives_reload(
        example: str, prefix: str, browser_context: Any, site_server: Any) -> None:  # noqa: F811
    page, errors, outside = open_example(browser_context, site_server, f"examples/{example}.html")
    assert visits_after_load(page, "#out", errors) == f"{prefix}browser: 1 visit(s)"
    page.reload()
    assert visits_after_load(page, "#out", errors) == f"{prefix}browser: 2 visit(s)"
    assert outside == [], f"fetched from outside the site: {outside}"


def test_micropip_installs_pyidb_from_the_sites_index_and_data_survives_reload(
        browser_context: Any, site_server: Any) -> None:  # noqa: F811
    page, errors, outside = open_example(browser_context, site_server, "examples/micropip.html")
    assert visits_after_load(page, "#out", errors) == "browser: 1 visit(s)"
    page.reload()
    assert visits_after_load(page, "#out", errors) == "browser: 2 visit(s)"
    assert outside == [], f"fetched from outside the site: {outside}"


def test_pyscript_main_thread_and_worker_store_and_data_survives_reload(
        browser_context: Any, site_server: Any) -> None:  # noqa: F811
    page, errors, outside = open_example(browser_context, site_server, "examples/pyscript.html")
    assert visits_after_load(page, "#out", errors) == "browser: 1 visit(s)"
    assert visits_after_load(page, "#out-worker", errors) == "worker browser: 2 visit(s)"
    page.reload()
    assert visits_after_load(page, "#out", errors) == "browser: 3 visit(s)"
    assert visits_after_load(page, "#out-worker", errors) == "worker browser: 4 visit(s)"
    assert outside == [], f"fetched from outside the site: {outside}"
