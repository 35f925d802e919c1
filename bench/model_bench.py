"""Runs bench/model_workloads.py on CPython (``memory:``) and in Chromium (real IndexedDB).

>>> times = run_model_cpython(n=100_000, create_n=10_000, runs=5, queries=200)
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pyidb

from . import model_workloads

SOURCE = Path(__file__).with_name("model_workloads.py")


def _split(raw: dict[str, list[float]]) -> dict[tuple[str, str], list[float]]:
    return {tuple(k.split("|", 1)): v for k, v in raw.items()}  # type: ignore[misc]


def run_model_cpython(n: int, create_n: int, runs: int, queries: int) -> dict[tuple[str, str], list[float]]:
    """``{(impl, workload): [ms per run]}`` on a ``memory:`` factory."""
    factory = pyidb.factory("memory:")
    return _split(asyncio.run(model_workloads.measure(factory, n, create_n, runs, queries)))


def run_model_chromium(n: int, create_n: int, runs: int, queries: int) -> dict[tuple[str, str], list[float]]:
    """The same in Chromium: Pyodide with the pyidb wheel on the real IndexedDB."""
    from .chromium_bench import bench_page

    code = (f"import json, pyidb\n"
            f"_ns = {{}}\nexec(compile({SOURCE.read_text()!r}, 'model_workloads', 'exec'), _ns)\n"
            f"json.dumps(await _ns['measure'](pyidb.factory('browser'), {n}, {create_n}, {runs}, "
            f"{queries}))")
    with bench_page(timeout_s=1800) as page:
        page.evaluate("bench.pyidbReady")
        out: Any = page.evaluate("code => bench.python(code)", code)
    return _split(json.loads(out))
