"""The shared Chromium/Pyodide fixtures of tests/runners, for the browser backend's tests."""

from runners.fixtures import (  # noqa: F401  (pytest finds fixtures by name)
    browser_context,
    built_site,
    chromium,
    shared_pyodide_page,
    site_server,
)
