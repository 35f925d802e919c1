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
RECORD_IMPLS = {"raw JS": "rawRecords", "pyidb": "pyidbRecords"}  # Dexie has no getAllRecords


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
            log(f"  chromium: Pyodide + wheels loaded in {info['loadMs']} ms; import pyidb, "
                f"open, first get: {info['firstResultMs']:.0f} ms")
            # one sample per page load; N=1: the database holds one record
            times[("pyidb", 1)] = {"first_result": [info["firstResultMs"]]}
        except Exception as exc:  # the baselines still run; pyidb is reported unavailable
            errors["pyidb"] = f"boot failed: {exc}"
        for n in sizes:
            for i in range(runs):
                for impl, fn in [*IMPLS.items(), *RECORD_IMPLS.items()]:
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
            log(f"  chromium n={n}: {runs} runs each of {', '.join(IMPLS)} (+ get_all_records)")
    return times, errors


def profile_chromium(n: int, impl: str = "pyidb", out_dir: Path | None = None
                     ) -> dict[str, dict[str, Any]]:
    """One run of ``impl`` ("pyidb" or "raw JS") under Chromium's CPU profiler, cut per workload.

    The page wraps each workload in ``console.profile(name)``/``profileEnd``; CDP reports each as
    ``Profiler.consoleProfileFinished``. Returns ``{workload: cpuprofile}`` (also written to
    ``out_dir/chromium-<impl>-<workload>.cpuprofile``); :func:`top_self_time` summarises one.
    """
    import json

    fn = IMPLS[impl]
    profiles: dict[str, dict[str, Any]] = {}
    with bench_page() as page:
        page.evaluate("bench.pyidbReady")
        page.evaluate(f"bench.{fn}({n}, 'bench-warmup')")  # compile/JIT outside the profile
        cdp = page.context.new_cdp_session(page)
        cdp.on("Profiler.consoleProfileFinished",
               lambda event: profiles.__setitem__(event["title"], event["profile"]))
        cdp.send("Profiler.enable")
        cdp.send("Profiler.setSamplingInterval", {"interval": 100})
        times = page.evaluate(f"bench.{fn}({n}, 'bench-profiled', true)")
        page.wait_for_timeout(500)  # let the last consoleProfileFinished arrive
        cdp.send("Profiler.disable")
    for workload, profile in profiles.items():
        profile["benchMs"] = times.get(workload)
        if out_dir is not None:
            out_dir.mkdir(parents=True, exist_ok=True)
            slug = impl.replace(" ", "-")
            (out_dir / f"chromium-{slug}-{workload}.cpuprofile").write_text(json.dumps(profile))
    return profiles


def top_self_time(profile: dict[str, Any], top: int = 25) -> list[tuple[float, str]]:
    """``[(percent of samples, "function file:line"), ...]`` by self time (wasm frames are
    Pyodide's interpreter: Python code; "(program)" is the browser's own native work)."""
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


def categories(profile: dict[str, Any]) -> dict[str, float]:
    """Milliseconds of samples by kind: idle, the browser's native IndexedDB/clone work, GC, the
    page's JS, the pyidb shim's JS, Pyodide's JS glue, and wasm (the Python interpreter)."""
    nodes = {node["id"]: node for node in profile["nodes"]}
    deltas = profile.get("timeDeltas", [])
    out: dict[str, float] = {}
    for i, sample in enumerate(profile.get("samples", [])):
        frame = nodes[sample]["callFrame"]
        name, url = frame.get("functionName", ""), frame.get("url", "")
        if name == "(idle)":
            kind = "idle (waiting for IndexedDB)"
        elif name == "(garbage collector)":
            kind = "JS garbage collector"
        elif name == "(program)" or (not url and frame.get("lineNumber", -1) < 0):
            kind = "browser native (IDB calls, clone, (program))"
        elif "wasm-function" in name or url.endswith(".wasm") or name == "wasm-to-js":
            kind = "wasm: Python interpreter (pyidb + stdlib)"
        elif "pyodide.asm" in url or "pyodide.mjs" in url:
            kind = "Pyodide JS glue (FFI, proxies)"
        elif not url:
            kind = "pyidb JS shim"
        else:
            kind = "page JS (benchmark, Dexie)"
        dt = deltas[i + 1] if i + 1 < len(deltas) else 0
        out[kind] = out.get(kind, 0.0) + dt / 1000.0
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


if __name__ == "__main__":
    # .venv/bin/python -m bench.chromium_bench [n]: per-workload profiles of pyidb and raw JS.
    size = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    out = REPO / "bench" / "results"
    for who in ("raw JS", "pyidb"):
        for workload, prof in profile_chromium(size, who, out).items():
            print(f"===== {who} {workload}: {prof.get('benchMs', 0):.1f} ms =====")
            for kind, ms in categories(prof).items():
                print(f"  {ms:8.1f} ms  {kind}")
            print("  top self time:")
            for pct, label in top_self_time(prof, 12):
                print(f"  {pct:5.1f}%  {label}")
