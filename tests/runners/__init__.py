"""Runners of the conformance suite in Pyodide (Node, Chromium) and their shared pytest fixtures."""
