"""Shared pytest fixtures for everything that runs pyidb in Pyodide (Node) or in Chromium.

Use them from a conftest.py or test module (tests/ is on sys.path, so this is ``runners.fixtures``)::

    from runners.fixtures import *  # noqa: F403  (registers the fixtures below)

or, in the top-level tests/conftest.py only: ``pytest_plugins = ["runners.fixtures"]``.

Fixtures (session = started once per pytest run):

* ``built_site`` (session) -> :class:`Built`: paths of site/, the wheels, node_modules. Fails with
  "run ./build.sh" when something is missing; rebuilds (``./build.sh wheel site``) when a pyidb
  source file is newer than the wheel.
* ``site_server`` (session) -> :class:`serve.SiteServer` on 127.0.0.1 serving site/, with tests/ and
  web_demo/ overlaid live from the repo. ``site_server.url("web_demo/index.html")``.
* ``chromium`` (module) -> a Playwright ``Browser`` (Debian's chromium or $PYIDB_CHROMIUM, headless,
  the project's flags, a throwaway profile). Module scope on purpose: while Playwright's sync API
  is started it marks an asyncio loop as running in the main thread, so ``asyncio.run`` (the
  ``async def`` tests of tests/conftest.py) fails until it stops. Keep async tests out of modules
  that use the browser fixtures.
* ``browser_context`` -> a fresh Playwright ``BrowserContext`` (fresh, empty IndexedDB), with every
  page's console and errors logged to test-artifacts/browser/<test>.log.
* ``pyodide_page`` -> a ``Page`` in its own context at tests/runners/browser_runner.html with
  Pyodide and the pyidb wheel loaded (~4 s). Run Python in it with :func:`run_python`::

      def test_x(pyodide_page):
          assert run_python(pyodide_page, "import pyidb; pyidb.__version__") == "0.1.0"

* ``shared_pyodide_page`` (module) -> one such page reused by the module's tests (saves the
  load; tests must then use unique database names, e.g. ``conformance._support.db_name``).

Helpers: :func:`run_python`, :func:`conformance_ids`, :func:`assert_result`, :func:`unreported_ids`.
Environment: PYIDB_CHROMIUM (browser binary), PYIDB_CONFORMANCE_DIR (a folder holding a
``conformance/`` package to run instead of tests/conformance), PYIDB_TEST_TIMEOUT (seconds per
conformance test, default 60), PYIDB_SUITE_TIMEOUT (seconds per whole runner, default 900).
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from .serve import SiteServer

RUNNERS = Path(__file__).resolve().parent
TESTS = RUNNERS.parent
REPO = TESTS.parent
ARTIFACTS = REPO / "test-artifacts"
RUNNER_PAGE = "tests/runners/browser_runner.html"
CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
SUITE_TIMEOUT_S = float(os.environ.get("PYIDB_SUITE_TIMEOUT", "900"))  # a whole runner, worst case
TEST_TIMEOUT_S = float(os.environ.get("PYIDB_TEST_TIMEOUT", "60"))  # one conformance test


def suite_dir() -> Path:
    """The folder that holds the ``conformance`` package the runners run."""
    return Path(os.environ.get("PYIDB_CONFORMANCE_DIR", TESTS)).resolve()


SUITE_PACKAGES = ("conformance", "model_conformance")
"""The packages the runners run (tests/runners/pyodide_runner.py PACKAGES)."""


def suite_modules(package: str) -> list[Path]:
    return sorted((suite_dir() / package).glob("test_*.py"))


def conformance_ids() -> list[str]:
    """``["test_cf_keys.py::test_x", ...]``: every ``async def test_*`` of the suites, in file order.

    Read with ``ast`` so that collection never imports the suite (a broken module still gets
    its ids, and the runner reports its import error for each).
    """
    ids: list[str] = []
    for path in [p for package in SUITE_PACKAGES for p in suite_modules(package)]:
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except SyntaxError:
            ids.append(f"{path.name}::<import>")
            continue
        ids += [f"{path.name}::{node.name}" for node in tree.body
                if isinstance(node, ast.AsyncFunctionDef) and node.name.startswith("test_")]
    return ids


def pytest_id(test_id: str) -> str:
    """``test_cf_keys.py::test_x`` -> ``test_cf_keys.test_x`` (no ``::`` inside a pytest id)."""
    return test_id.replace(".py::", ".")


def selected_ids(request: pytest.FixtureRequest, test_file: str) -> list[str] | None:
    """The conformance ids this session will run from ``test_file``; None when all of them."""
    everything = conformance_ids()
    chosen = [item.callspec.params["test_id"] for item in request.session.items
              if Path(str(item.fspath)).name == test_file and hasattr(item, "callspec")
              and "test_id" in item.callspec.params]
    if not chosen or set(chosen) >= set(everything):
        return None
    return chosen


def assert_result(results: dict[str, dict[str, Any]], test_id: str, runner: str) -> None:
    """Turn one runner result into this pytest test's outcome (traceback from inside Pyodide)."""
    result = results.get(test_id)
    if result is None:
        module = test_id.split("::")[0]
        broken = results.get(f"{module}::<import>")
        if broken is not None:
            pytest.fail(f"[{runner}] {broken['message']}", pytrace=False)
        pytest.fail(f"[{runner}] reported no result for {test_id} (see test-artifacts/)",
                    pytrace=False)
    if result["outcome"] == "skipped":
        pytest.skip(result["message"] or "skipped by the runner")
    if result["outcome"] != "passed":
        pytest.fail(f"[{runner}] {test_id} failed after {result['duration']} s:\n"
                    f"{result['message']}", pytrace=False)


def unreported_ids(results: dict[str, dict[str, Any]], ids: list[str]) -> list[str]:
    """Test ids a runner ran that the host did not collect (e.g. tests made at import time)."""
    return sorted(i for i in results if i not in ids and not i.endswith("::<import>"))


@dataclass(frozen=True)
class Built:
    """What ./build.sh made: the staged site and the wheels (dependencies first)."""

    site: Path
    wheels: tuple[Path, ...]
    node_modules: Path


def _newest_source_mtime() -> float:
    roots = [REPO / "pyidb", REPO / "js_shim"]
    times = [(REPO / "pyproject.toml").stat().st_mtime]
    for root in roots:
        if root.exists():
            times += [p.stat().st_mtime for p in root.rglob("*")
                      if p.is_file() and p.suffix in {".py", ".js", ".mjs", ".typed"}]
    return max(times)


def _find_built() -> Built | str:
    """The build products, or a message saying what is missing."""
    node_modules = REPO / "node_modules"
    if not (node_modules / "pyodide" / "pyodide.mjs").exists():
        return "node_modules/pyodide is missing"
    pyidb_wheels = sorted((REPO / "dist").glob("pyidb-*.whl"))
    deps = sorted((REPO / "dist" / "deps").glob("sortedcontainers-*.whl"))
    site = REPO / "site"
    if not pyidb_wheels or not deps:
        return "the wheels in dist/ are missing"
    if not (site / "wheels" / "manifest.json").exists():
        return "site/ is not staged"
    return Built(site=site, wheels=(deps[0], pyidb_wheels[-1]), node_modules=node_modules)


def ensure_built() -> Built:
    """:class:`Built`, rebuilding a stale wheel; pytest.fail with the fix when nothing is built."""
    found = _find_built()
    if isinstance(found, str):
        pytest.fail(f"{found}: run ./build.sh (setup, wheel and site) before these tests",
                    pytrace=False)
    if found.wheels[-1].stat().st_mtime < _newest_source_mtime():
        # pyidb changed since the wheel was built: the runners must test the current code.
        done = subprocess.run([str(REPO / "build.sh"), "wheel", "site"], cwd=REPO,
                              capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            pytest.fail(f"./build.sh wheel site failed:\n{done.stdout}\n{done.stderr}",
                        pytrace=False)
        found = _find_built()
        assert isinstance(found, Built), found
    return found


@pytest.fixture(scope="session")
def built_site() -> Built:
    return ensure_built()


@pytest.fixture(scope="session")
def site_server(built_site: Built) -> Iterator[SiteServer]:
    ARTIFACTS.mkdir(exist_ok=True)
    overlays = {"/tests/conformance/": suite_dir() / "conformance",
                "/tests/model_conformance/": suite_dir() / "model_conformance", "/tests/": TESTS,
                "/web_demo/": REPO / "web_demo", "/examples/": REPO / "examples"}
    server = SiteServer(built_site.site, overlays=overlays,
                        log_path=ARTIFACTS / "site-server.log").start()
    yield server
    server.stop()


def chromium_executable() -> str | None:
    """$PYIDB_CHROMIUM, else /usr/bin/chromium, else None (a Playwright-managed browser)."""
    configured = os.environ.get("PYIDB_CHROMIUM")
    if configured:
        if not os.access(configured, os.X_OK):
            pytest.fail(f"PYIDB_CHROMIUM={configured} is not an executable", pytrace=False)
        return configured
    for candidate in ("/usr/bin/chromium", shutil.which("chromium") or ""):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


@pytest.fixture(scope="module")
def chromium(built_site: Built) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    executable = chromium_executable()
    with sync_playwright() as p:
        if executable is None and not Path(p.chromium.executable_path).exists():
            pytest.fail("no Chromium: run ./build.sh setup (apt chromium) or set PYIDB_CHROMIUM",
                        pytrace=False)
        # launch() gives the browser a fresh temporary profile, removed at close.
        browser = p.chromium.launch(executable_path=executable, headless=True,
                                    args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


def _log_name(nodeid: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid).strip("_")[:150] or "page"


def open_logged_context(browser: Any, log_path: Path) -> Any:
    """A fresh context whose pages write console messages and errors to ``log_path``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = open(log_path, "w", encoding="utf-8")
    context = browser.new_context()

    def watch(page: Any) -> None:
        page.on("console", lambda m: (log.write(f"[{m.type}] {m.text}\n"), log.flush()))
        page.on("pageerror", lambda e: (log.write(f"[pageerror] {e}\n"), log.flush()))
        page.on("crash", lambda _p: (log.write("[crash] the page crashed\n"), log.flush()))

    context.on("page", watch)
    context.on("close", lambda _c: log.close())
    return context


@pytest.fixture
def browser_context(chromium: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    context = open_logged_context(
        chromium, ARTIFACTS / "browser" / f"{_log_name(request.node.nodeid)}.log")
    yield context
    context.close()


def open_pyodide_page(context: Any, server: SiteServer, timeout_ms: float = 120_000, *,
                      worker: bool = False) -> Any:
    """A page at the runner page with Pyodide and the pyidb wheel loaded (fails with the cause).

    ``worker=True``: Python runs in a module Web Worker the page starts (same ``pyidbTest`` API).
    """
    page = context.new_page()
    page.goto(server.url(RUNNER_PAGE + ("?worker=1" if worker else "")))
    page.wait_for_function("window.__PYIDB_READY__ || window.__PYIDB_BOOT_ERROR__",
                           timeout=timeout_ms)
    error = page.evaluate("window.__PYIDB_BOOT_ERROR__ || null")
    if error:
        pytest.fail(f"Pyodide/pyidb did not load in Chromium: {error}", pytrace=False)
    return page


@pytest.fixture
def pyodide_page(browser_context: Any, site_server: SiteServer) -> Any:
    return open_pyodide_page(browser_context, site_server)


@pytest.fixture(scope="module")
def shared_pyodide_page(chromium: Any, site_server: SiteServer,
                        request: pytest.FixtureRequest) -> Iterator[Any]:
    name = _log_name(request.node.nodeid)
    context = open_logged_context(chromium, ARTIFACTS / "browser" / f"{name}.shared_page.log")
    yield open_pyodide_page(context, site_server)
    context.close()


def run_conformance_suite(browser: Any, server: SiteServer, request: pytest.FixtureRequest,
                          test_file: str, name: str, *, worker: bool = False,
                          url: str = "browser",
                          only: list[str] | None = None) -> dict[str, dict[str, Any]]:
    """Run the conformance suite in one runner page; ``{test_id: result}`` (see assert_result).

    ``name`` names the artifacts: test-artifacts/browser/<name>-conformance.log (the page's
    console) and test-artifacts/<name>-results.json. ``url`` is the factory the runner makes
    ("browser+wrapped": through a pass-through pyidb.wrap); ``only``: just these conformance
    modules (no other package).
    """
    context = open_logged_context(browser, ARTIFACTS / "browser" / f"{name}-conformance.log")
    try:
        page = open_pyodide_page(context, server, worker=worker)
        modules = sorted(p.name for p in (suite_dir() / "conformance").glob("*.py"))
        packages = {pkg: sorted(p.name for p in (suite_dir() / pkg).glob("*.py"))
                    for pkg in SUITE_PACKAGES if pkg != "conformance" and (suite_dir() / pkg).is_dir()}
        expected = conformance_ids()
        if only is not None:
            modules, packages = sorted(only), {}
            expected = [i for i in expected if i.split("::")[0] in only]
        options = {"modules": modules, "packages": packages,
                   "select": selected_ids(request, test_file),
                   "expected": expected, "timeout": TEST_TIMEOUT_S, "url": url}
        # Start the run without awaiting it in evaluate (which has no timeout), then wait for it.
        page.evaluate("""opts => { window.pyidbTest.runSuite(opts).catch(err => {
            window.__PYIDB_SUITE_ERROR__ = String(err && err.stack ? err.stack : err); }); }""",
                      options)
        page.wait_for_function("window.__PYIDB_RESULTS__ || window.__PYIDB_SUITE_ERROR__",
                               timeout=SUITE_TIMEOUT_S * 1000)
        error = page.evaluate("window.__PYIDB_SUITE_ERROR__ || null")
        if error:
            pytest.fail(f"the {name} runner failed: {error}", pytrace=False)
        info = page.evaluate("window.__PYIDB_READY__")
        results = json.loads(page.evaluate("window.__PYIDB_RESULTS__"))
        (ARTIFACTS / f"{name}-results.json").write_text(
            json.dumps({"ready": info, "results": results}, indent=1))
        return {r["id"]: r for r in results}
    finally:
        context.close()


def run_python(page: Any, code: str) -> Any:
    """Run ``code`` (top-level ``await`` allowed) in the page's Pyodide; its last expression's value.

    Dicts/lists come back as Python dicts/lists; a Python error raises playwright's Error with
    the Pyodide traceback in its message.
    """
    return page.evaluate("code => window.pyidbTest.runPython(code)", code)
