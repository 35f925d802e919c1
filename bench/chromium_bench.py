"""Chromium benchmarks: raw IndexedDB, Dexie and pyidb (Pyodide, ``factory("browser")``) on one page.

The staged site/ (``./build.sh site``) is served on 127.0.0.1 with bench/ overlaid at /bench/ and
node_modules/dexie/dist at /vendor/dexie/; Python Playwright drives Debian's chromium headless with
the project's flags. Runs interleave the three implementations (raw, Dexie, pyidb, raw, ...) so
that noise from the shared machine falls on all of them alike.

>>> times, errors = run_chromium(sizes=[10_000], runs=5)   # {("raw JS", 10000): {"write": [ms..]}}
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
from runners.serve import SiteServer  # noqa: E402

CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
PAGE = "bench/bench_page.html"
IMPLS = {"raw JS": "raw", "Dexie": "dexie", "pyidb": "pyidb"}


def chromium_executable() -> str:
    path = os.environ.get("PYIDB_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not os.access(path, os.X_OK):
        raise RuntimeError(f"no chromium at {path}: run ./build.sh setup or set PYIDB_CHROMIUM")
    return path


@contextmanager
def bench_page(timeout_s: float = 120) -> Iterator[Any]:
    """A Playwright page at bench/bench_page.html on a fresh profile (empty IndexedDB)."""
    from playwright.sync_api import sync_playwright

    site = REPO / "site"
    if not (site / "wheels" / "manifest.json").exists():
        raise RuntimeError("site/ is not staged: run ./build.sh (setup, wheel, site) first")
    overlays = {"/bench/": REPO / "bench", "/vendor/dexie/": REPO / "node_modules" / "dexie" / "dist"}
    server = SiteServer(site, overlays=overlays).start()
    profile = tempfile.mkdtemp(prefix="pyidb-bench-chromium-")
    try:
        with sync_playwright() as p:
            context = p.chromium.launch_persistent_context(
                profile, executable_path=chromium_executable(), headless=True, args=CHROMIUM_FLAGS)
            try:
                page = context.new_page()
                page.set_default_timeout(timeout_s * 1000)
                errors: list[str] = []
                page.on("pageerror", lambda e: errors.append(str(e)))
                page.goto(server.url(PAGE))
                page.wait_for_function("window.__BENCH_READY__ === true")
                yield page
            finally:
                context.close()
    finally:
        server.stop()
        shutil.rmtree(profile, ignore_errors=True)


def run_chromium(sizes: list[int], runs: int, log: Any = print
                 ) -> tuple[dict[tuple[str, int], dict[str, list[float]]], dict[str, str]]:
    """``(times, errors)``: ms per run per workload per (impl, n); errors by impl (e.g. pyidb)."""
    times: dict[tuple[str, int], dict[str, list[float]]] = {}
    errors: dict[str, str] = {}
    with bench_page() as page:
        try:
            info = page.evaluate("bench.pyidbReady")
            log(f"  chromium: Pyodide + pyidb loaded in {info['loadMs']} ms")
        except Exception as exc:  # the baselines still run; pyidb is reported unavailable
            errors["pyidb"] = f"boot failed: {exc}"
        for n in sizes:
            for i in range(runs):
                for impl, fn in IMPLS.items():
                    if impl in errors:
                        continue
                    name = f"bench-{fn}-{n}-{i}"
                    try:
                        one = page.evaluate(f"bench.{fn}({n}, {name!r})")
                    except Exception as exc:
                        if impl != "pyidb":
                            raise
                        errors[impl] = str(exc).splitlines()[0][:500]
                        continue
                    slot = times.setdefault((impl, n), {})
                    for w, ms in one.items():
                        slot.setdefault(w, []).append(ms)
            log(f"  chromium n={n}: {runs} runs each of {', '.join(IMPLS)}")
    return times, errors


def profile_chromium(n: int, impl: str = "pyidb", out: Path | None = None) -> dict[str, Any]:
    """One run of ``impl`` under Chromium's CPU profiler (CDP ``Profiler.start/stop``).

    Returns the ``.cpuprofile`` (also written to ``out``); :func:`top_self_time` reads it.
    """
    import json

    with bench_page() as page:
        page.evaluate("bench.pyidbReady")
        page.evaluate(f"bench.{IMPLS[impl]}({n}, 'bench-warmup')")  # compile/JIT outside the profile
        cdp = page.context.new_cdp_session(page)
        cdp.send("Profiler.enable")
        cdp.send("Profiler.setSamplingInterval", {"interval": 100})
        cdp.send("Profiler.start")
        times = page.evaluate(f"bench.{IMPLS[impl]}({n}, 'bench-profiled')")
        profile = cdp.send("Profiler.stop")["profile"]
    profile["benchTimes"] = times
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(profile))
    return profile


def top_self_time(profile: dict[str, Any], top: int = 25) -> list[tuple[float, str]]:
    """``[(percent of samples, "function url:line"), ...]`` by self time."""
    nodes = {node["id"]: node for node in profile["nodes"]}
    counts: dict[int, int] = {}
    for sample in profile.get("samples", []):
        counts[sample] = counts.get(sample, 0) + 1
    total = sum(counts.values()) or 1
    by_name: dict[str, int] = {}
    for node_id, count in counts.items():
        frame = nodes[node_id]["callFrame"]
        where = frame.get("url", "").rsplit("/", 1)[-1]
        label = f"{frame.get('functionName') or '(anonymous)'} {where}:{frame.get('lineNumber', -1) + 1}"
        by_name[label] = by_name.get(label, 0) + count
    ranked = sorted(by_name.items(), key=lambda kv: -kv[1])[:top]
    return [(100.0 * c / total, label) for label, c in ranked]
