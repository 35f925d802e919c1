"""The model client's suite: ``async def test_*(factory)`` functions over pyidb.model only.

Like tests/conformance, no pytest import: pytest runs them on CPython (memory and sqlite), and the
Pyodide runners (Node, Chromium) run the same functions on their factories.
"""
