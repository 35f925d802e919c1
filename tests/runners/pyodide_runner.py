"""A small conformance-suite runner for inside Pyodide (Node or a browser page); not a pytest clone.

It imports ``test_*.py`` of the packages in :data:`PACKAGES` (the IndexedDB conformance suite and
the model client's suite) from a directory, runs every ``async def test_*(factory)`` with
a fresh factory and a timeout, and returns one result per test as JSON::

    >>> await run_suite("/home/pyodide/suite", "memory:", backend_kind="engine")
    '[{"id": "test_cf_keys.py::test_x", "outcome": "passed", "message": "", "duration": 0.01}, ...]'

Tests marked ``browser_only`` are skipped on the engine, ``engine_only`` ones in the browser, each
with the marker's reason. A module that fails to import gives one failed result per test the host
expects (``expected_ids``) or a single ``<module>.py::<import>`` result.
It also runs on CPython (``python tests/runners/pyodide_runner.py tests``) for debugging.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import os
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

PACKAGES = ("conformance", "model_conformance")
"""Suite packages, run in this order; module file names are unique across them (test ids are
``file.py::test``)."""


def _result(test_id: str, outcome: str, message: str = "", duration: float = 0.0) -> dict[str, Any]:
    return {"id": test_id, "outcome": outcome, "message": message, "duration": round(duration, 4)}


def _module_files(suite_dir: str) -> list[tuple[str, str]]:
    """(package, file) of every suite module under ``suite_dir``."""
    found = []
    for package in PACKAGES:
        folder = os.path.join(suite_dir, package)
        if os.path.isdir(folder):
            found += [(package, f) for f in sorted(os.listdir(folder))
                      if f.startswith("test_") and f.endswith(".py")]
    return found


def _tests_of(module: Any) -> list[tuple[str, Callable[..., Any]]]:
    """The module's own ``test_*`` coroutine functions, in source order (as pytest runs them)."""
    found = [
        (name, fn)
        for name, fn in vars(module).items()
        if name.startswith("test_") and inspect.iscoroutinefunction(fn)
        and getattr(fn, "__module__", None) == module.__name__
    ]
    found.sort(key=lambda item: item[1].__code__.co_firstlineno)
    return found


def _skip_reason(fn: Any, backend_kind: str) -> str | None:
    if backend_kind == "engine" and getattr(fn, "browser_only", None):
        return f"browser only: {fn.browser_only}"
    if backend_kind == "browser" and getattr(fn, "engine_only", None):
        return f"engine only: {fn.engine_only}"
    return None


def _make_factory(url: str) -> Any:
    import pyidb

    if url.endswith("+wrapped"):  # every operation through a handler that changes nothing
        return pyidb.wrap(pyidb.factory(url[: -len("+wrapped")]), lambda op, proceed: proceed(op))
    return pyidb.factory(url)


async def _run_one(fn: Any, url: str, timeout: float) -> tuple[str, str]:
    try:
        factory = _make_factory(url)
    except BaseException as exc:  # the backend itself is broken: say so for every test
        detail = "".join(traceback.format_exception(exc))
        return "failed", f"{url} backend unavailable: {exc!r}\n{detail}"
    # A task of its own per test, as pytest's asyncio.run gives: the runner resumes from the event
    # loop, not inside the previous test's stack (Python 3.12+ wait_for would run the coroutine
    # in the runner's own task, and pyidb wakes tasks synchronously from its completions).
    task = asyncio.ensure_future(fn(factory))
    try:
        await asyncio.wait_for(task, timeout=timeout)
        return "passed", ""
    except TimeoutError:
        return "failed", f"timed out after {timeout} s (the test never finished)"
    except BaseException as exc:
        return "failed", "".join(traceback.format_exception(exc))
    finally:
        close = getattr(factory, "close", None)
        if close is not None:
            try:
                close()
            except Exception:
                pass


async def run_suite(
    suite_dir: str,
    url: str,
    *,
    backend_kind: str = "engine",
    timeout: float = 60.0,
    select: list[str] | None = None,
    expected_ids: list[str] | None = None,
    select_json: str | None = None,
    expected_json: str | None = None,
) -> str:
    """Run the suites under ``suite_dir/<package>`` on factories from ``url``; JSON results.

    ``select``: only these test ids (None: all). ``backend_kind``: "engine" or "browser".
    ``select_json``/``expected_json``: the same lists as JSON text (what JavaScript passes).
    """
    if select_json is not None:
        select = json.loads(select_json)
    if expected_json is not None:
        expected_ids = json.loads(expected_json)
    if suite_dir not in sys.path:
        sys.path.insert(0, suite_dir)
    importlib.invalidate_caches()
    wanted = set(select) if select is not None else None
    results: list[dict[str, Any]] = []
    for package, filename in _module_files(suite_dir):
        modname = f"{package}.{filename[:-3]}"
        try:
            module = importlib.import_module(modname)
        except BaseException as exc:
            message = f"cannot import {filename}:\n" + "".join(traceback.format_exception(exc))
            ids = [i for i in (expected_ids or []) if i.startswith(f"{filename}::")]
            for test_id in ids or [f"{filename}::<import>"]:
                if wanted is None or test_id in wanted or test_id.endswith("::<import>"):
                    results.append(_result(test_id, "failed", message))
            continue
        for name, fn in _tests_of(module):
            test_id = f"{filename}::{name}"
            if wanted is not None and test_id not in wanted:
                continue
            reason = _skip_reason(fn, backend_kind)
            if reason is not None:
                results.append(_result(test_id, "skipped", reason))
                continue
            t0 = time.perf_counter()
            outcome, message = await _run_one(fn, url, timeout)
            results.append(_result(test_id, outcome, message, time.perf_counter() - t0))
    return json.dumps(results)


if __name__ == "__main__":  # CPython debugging: python tests/runners/pyodide_runner.py tests [url]
    out = asyncio.run(run_suite(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "memory:"))
    for r in json.loads(out):
        print(r["outcome"], r["id"], r["message"].splitlines()[-1:] if r["message"] else "")
