"""The tour notebook (notebooks/pyidb-tour.ipynb) executed cell by cell in the real JupyterLite.

``./build.sh lite`` builds the offline JupyterLite site (lite/): its Pyodide kernel runs in a Web
Worker, loads the staged Pyodide (never a CDN) and installs pyidb with ``%pip install pyidb``
from the site's pypi/. Here Chromium opens the notebook, runs each cell with Shift+Enter as a
reader would, and checks each code cell's output; then reloads the page, runs it all again, and
the data written by the first run is still there (the run counter goes from 1 to 2).
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest
from runners.fixtures import (  # noqa: F401  (fixtures are used by name)
    ARTIFACTS,
    REPO,
    Built,
    built_site,
    chromium,
    open_logged_context,
)
from runners.serve import SiteServer

import pyidb

NOTEBOOK = REPO / "notebooks" / "pyidb-tour.ipynb"
LITE = REPO / "lite"
PAGE = "notebooks/index.html?path=pyidb-tour.ipynb"
KERNEL_START_S = 180  # Pyodide and the kernel's packages load on the first run
CELL_S = 60

# What each code cell of the tour shows (by the cell's id), as the page renders it.
EXPECTED = {
    "install": "",
    "backend": f"('{pyidb.__version__}', 'browser')",
    "open": "('pyidb-tour', 1, ['notes', 'runs'])",
    "put": "{'id': 3, 'text': 'book train to Lyon', 'tags': ['travel', 'home'], 'words': 4}",
    "inactive": "TransactionInactiveError - the transaction had committed\n3",
    "index": "['buy oat milk', 'book train to Lyon']",
    "range": "[2, 3]",
    "cursor": "#home     buy oat milk\n#home     book train to Lyon\n#travel   book train to Lyon\n"
              "#work     ship pyidb",
    "table": "id\ttext\ttags\twords\n1\tbuy oat milk\thome\t3\n2\tship pyidb\twork\t2\n"
             "3\tbook train to Lyon\ttravel, home\t4",
    "runs": "This notebook has run {runs} time(s) in this browser.",
}


def tour_cells() -> list[dict[str, Any]]:
    return json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]


def _lite_is_stale(built: Built) -> bool:
    wheel = LITE / "pypi" / built.wheels[-1].name
    staged_notebook = LITE / "files" / NOTEBOOK.name
    return (not wheel.exists() or wheel.stat().st_mtime < built.wheels[-1].stat().st_mtime
            or not staged_notebook.exists()
            or staged_notebook.stat().st_mtime < NOTEBOOK.stat().st_mtime)


@pytest.fixture(scope="module")
def lite_server(built_site: Built) -> Iterator[SiteServer]:  # noqa: F811
    if _lite_is_stale(built_site):  # the wheel or the notebook changed since lite/ was built
        done = subprocess.run([str(REPO / "build.sh"), "lite"], cwd=REPO, capture_output=True,
                              text=True, timeout=900)
        if done.returncode != 0:
            pytest.fail(f"./build.sh lite failed:\n{done.stdout}\n{done.stderr}", pytrace=False)
    server = SiteServer(LITE, log_path=ARTIFACTS / "lite-server.log").start()
    yield server
    server.stop()


def run_cell(page: Any, cell: Any, count: int) -> str:
    """Shift+Enter on ``cell``; once its prompt shows ``[count]``, the text of its outputs."""
    cell.locator(".jp-InputPrompt").click()
    page.keyboard.press("Shift+Enter")
    prompt = cell.locator(".jp-InputPrompt")
    deadline = time.monotonic() + CELL_S
    while prompt.inner_text().strip() != f"[{count}]:":
        assert time.monotonic() < deadline, f"cell {count} still shows {prompt.inner_text()!r}"
        page.wait_for_timeout(100)  # poll the prompt; JupyterLite sets it when the cell is done
    outputs = cell.locator(".jp-OutputArea-output").all_inner_texts()
    return "\n".join(o.strip("\n") for o in outputs)


def run_tour(page: Any, url: str, runs: int) -> None:
    """Open the tour, run every cell in order, check every code cell's output."""
    page.goto(url)
    # Ready when the Pyodide kernel is connected and idle (keys pressed before go nowhere).
    page.wait_for_function(
        """() => document.querySelector('.jp-Toolbar-kernelName')?.textContent.includes('Pyodide')
              && document.querySelector('.jp-Notebook-ExecutionIndicator')?.dataset.status === 'idle'""",
        timeout=KERNEL_START_S * 1000)
    dom_cells = page.locator(".jp-Notebook .jp-Cell")
    cells = tour_cells()
    assert dom_cells.count() == len(cells)
    count = 0
    for i, source in enumerate(cells):
        if source["cell_type"] != "code":
            continue
        count += 1
        got = run_cell(page, dom_cells.nth(i), count)
        assert got == EXPECTED[source["id"]].replace("{runs}", str(runs)), f"cell {source['id']!r}"


def test_every_code_cell_of_the_tour_is_checked() -> None:
    code_ids = [c["id"] for c in tour_cells() if c["cell_type"] == "code"]
    assert sorted(code_ids) == sorted(EXPECTED)
    assert any("PLACEHOLDER pyidb.model" in "".join(c["source"]) for c in tour_cells())


def test_tour_runs_in_jupyterlite_and_its_data_survives_a_reload(
        chromium: Any, lite_server: SiteServer) -> None:  # noqa: F811
    context = open_logged_context(chromium, ARTIFACTS / "browser" / "jupyterlite-tour.log")
    outside: list[str] = []
    context.on("request", lambda r: r.url.startswith((lite_server.base_url, "data:", "blob:"))
               or outside.append(r.url))
    try:
        page = context.new_page()
        page.set_default_timeout(30_000)
        run_tour(page, lite_server.url(PAGE), runs=1)
        page.screenshot(path=str(ARTIFACTS / "jupyterlite-tour.png"), full_page=True)
        run_tour(page, lite_server.url(PAGE), runs=2)  # a new page load: a new kernel, the same IndexedDB
        assert outside == [], f"fetched from outside the site: {outside}"
    finally:
        context.close()
