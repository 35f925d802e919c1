"""The conformance suite: written once, run on every backend and in every runner.

Each ``test_*.py`` module holds ``async def test_*(factory)`` functions that use only the public
pyidb API and ``_support``. No pytest import, no CPython-only tricks: the same functions run under
pytest on CPython (memory and sqlite factories), inside Pyodide under Node (engine) and inside
Pyodide in Chromium (real IndexedDB).
"""
