"""Run every pyidb benchmark: ``.venv/bin/python -m bench [--quick] [--only cpython,providers,...]``.

Prints a table of medians with the ratio to each baseline measured in the same run, plus the
targets (met/missed), and writes the same as JSON to bench/results/latest.json. Benchmarks never
fail on speed; the exit code is 1 when a benchmark crashed (or gave a wrong answer), so
``--quick`` (tiny sizes, well under a minute) keeps them from rotting in CI.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # `python -m bench` from the repo root has it; be sure anyway
    sys.path.insert(0, str(REPO))

from bench.report import Results  # noqa: E402

RESULTS_MARKER = "@@BENCH_RESULTS@@ "
FULL = {"sizes": [10_000], "cpython_sizes": [10_000, 1_000_000], "runs": 5,
        "growth": (10_000, 1_000_000), "transfer_size": 100_000, "memory_size": 1_000_000,
        "model": (100_000, 10_000, 200),
        "sync_size": 10_000, "sync_runs": 3, "sync_chromium_size": 100_000,
        "providers_sizes": [10_000, 100_000, 1_000_000]}
QUICK = {"sizes": [300], "cpython_sizes": [300], "runs": 2, "growth": (300, 3_000),
         "transfer_size": 300, "memory_size": 3_000,
         "model": (2_000, 500, 20), "sync_size": 600, "sync_runs": 1, "sync_chromium_size": 1_000,
         "providers_sizes": [300]}
# model: (table size, create_many size, queries per run); sync: events pushed and pulled


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def bench_sync(results: Results, n: int, runs: int) -> None:
    from bench.sync_bench import bench_sync as run  # needs the sync extra (starlette, httpx...)

    run(results, n, runs, log=log)


def bench_sync_chromium(results: Results, n: int) -> None:
    """One pull of n changes into a Chromium page: its time and the page's longest task."""
    from bench.sync_chromium_bench import run

    ensure_built()
    figures = run(n, log=log)
    results.add("sync-chromium", "pyidb.sync", n, "pull", [figures["seconds"] * 1000])
    results.add("sync-chromium", "pyidb.sync", n, "longest_task", [figures["longest_task_ms"]])


def wheels() -> list[Path]:
    """sortedcontainers then pyidb from dist/, after :func:`ensure_built`."""
    ensure_built()
    deps = sorted((REPO / "dist" / "deps").glob("sortedcontainers-*.whl"))
    own = sorted((REPO / "dist").glob("pyidb-*.whl"))
    if not deps or not own:
        raise RuntimeError("no wheels in dist/: run ./build.sh first")
    return [deps[-1], own[-1]]


def ensure_built() -> None:
    """Rebuild the wheel and site/ (``./build.sh wheel site``) when pyidb/ or js_shim/ is newer
    than the wheel in dist/ or in site/wheels/: the Pyodide benches must run the current code."""
    sources = [p for root in ("pyidb", "js_shim") for p in (REPO / root).rglob("*")
               if p.suffix in {".py", ".js", ".mjs"}]
    newest = max((p.stat().st_mtime for p in sources), default=0)
    built = [*(REPO / "dist").glob("pyidb-*.whl"), *(REPO / "site" / "wheels").glob("pyidb-*.whl")]
    if len(built) < 2 or min(p.stat().st_mtime for p in built) < newest:
        log("bench: the wheel in dist/ or site/ is missing or older than pyidb/: "
            "./build.sh wheel site")
        subprocess.run([str(REPO / "build.sh"), "wheel", "site"], cwd=REPO, check=True,
                       stdout=sys.stderr)


def run_node_impl(impl: str, n: int, runs: int) -> dict[str, list[float]]:
    args = ["node", str(REPO / "bench" / "node_bench.mjs"), "--impl", impl, "--n", str(n),
            "--runs", str(runs)]
    if impl == "pyodide":
        for wheel in wheels():
            args += ["--wheel", str(wheel)]
    done = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=1800)
    lines = [line for line in done.stdout.splitlines() if line.startswith(RESULTS_MARKER)]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"node_bench --impl {impl} exited {done.returncode}:\n"
                           f"{done.stderr.strip()[-2000:]}")
    return json.loads(lines[-1][len(RESULTS_MARKER):])


def bench_node(results: Results, sizes: list[int], runs: int) -> None:
    for n in sizes:
        for impl, label in (("fake", "fake-indexeddb"), ("pyodide", "pyidb pyodide memory:")):
            t = time.perf_counter()
            # One warm-up run (JIT, imports) that is not counted.
            times = run_node_impl(impl, n, runs + 1)
            for w, values in times.items():
                results.add("node", label, n, w, values[1:])
            log(f"  node {label} n={n}: {time.perf_counter() - t:.1f} s")


def bench_cpython(results: Results, sizes: list[int], runs: int, growth: tuple[int, int]) -> None:
    from bench.cpython_bench import run_cpython

    with tempfile.TemporaryDirectory(prefix="pyidb-bench-") as tmp:
        out = run_cpython(sizes, runs, growth, Path(tmp), log=log)
    for (impl, n), times in out["runs"].items():
        for w, seconds in times.items():
            results.add("cpython", impl, n, w, [s * 1000 for s in seconds])
    results.growth = {n: {op: s * 1e6 for op, s in ops.items()} for n, ops in out["growth"].items()}


def bench_memory(results: Results, n: int) -> None:
    from bench.memory_bench import memory_per_record

    t = time.perf_counter()
    results.memory = {n: memory_per_record(n)}
    log(f"  memory per record n={n}: {time.perf_counter() - t:.1f} s")


def bench_transfer(results: Results, n: int, runs: int) -> None:
    from bench.transfer_bench import run_transfer

    with tempfile.TemporaryDirectory(prefix="pyidb-bench-") as tmp:
        out = run_transfer(n, min(runs, 3), Path(tmp), log=log)
    for (impl, size), times in out.items():
        for w, seconds in times.items():
            results.add("transfer", impl, size, w, [s * 1000 for s in seconds])


def bench_providers(results: Results, sizes: list[int], runs: int) -> None:
    from bench.providers_bench import run_providers

    with tempfile.TemporaryDirectory(prefix="pyidb-bench-") as tmp:
        out = run_providers(sizes, min(runs, 3), Path(tmp), log=log)
    for (impl, n), times in out.items():
        for w, seconds in times.items():
            results.add("providers", impl, n, w, [s * 1000 for s in seconds])


def bench_chromium(results: Results, sizes: list[int], runs: int) -> None:
    from bench.chromium_bench import run_chromium

    ensure_built()
    times, errors = run_chromium(sizes, runs + 1, log=log)
    for (impl, n), by_workload in times.items():
        for w, values in by_workload.items():
            # the first run warms up; first_result is one sample per page load by nature
            results.add("chromium", impl, n, w, values if w == "first_result" else values[1:])
    for impl, message in errors.items():
        results.errors[f"chromium {impl}"] = message


def bench_model(results: Results, env: str, config: tuple[int, int, int], runs: int) -> None:
    from bench.model_bench import run_model_chromium, run_model_cpython

    n, create_n, queries = config
    if env == "model-chromium":
        ensure_built()
    run = run_model_chromium if env == "model-chromium" else run_model_cpython
    for (impl, workload), values in run(n, create_n, runs, queries).items():
        results.add(env, impl, create_n if workload == "create_many" else n, workload, values)


def versions() -> dict[str, str]:
    out = {"python": platform.python_version(), "machine": platform.machine(),
           "platform": platform.platform()}
    try:
        out["node"] = subprocess.run(["node", "--version"], capture_output=True, text=True,
                                     timeout=30).stdout.strip()
    except OSError as exc:
        out["node"] = f"unavailable: {exc}"
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="tiny sizes, 2 runs: checks that every benchmark still runs")
    parser.add_argument("--only",
                        default="cpython,memory,transfer,providers,node,chromium,model,model-chromium,sync,"
                                "sync-chromium",
                        help="comma-separated environments (default: all)")
    parser.add_argument("--runs", type=int, help="timed runs per benchmark (default 5; quick 2)")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "latest.json")
    args = parser.parse_args(argv)
    config = dict(QUICK if args.quick else FULL)
    if args.runs:
        config["runs"] = args.runs
    envs = [e.strip() for e in args.only.split(",") if e.strip()]
    unknown = set(envs) - {"cpython", "memory", "transfer", "providers", "node", "chromium", "model",
                           "model-chromium", "sync", "sync-chromium"}
    if unknown:
        parser.error(f"unknown environment(s) {', '.join(sorted(unknown))}")

    results = Results()
    results.meta = {"mode": "quick" if args.quick else "full", "runs": config["runs"],
                    "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **versions()}
    t0 = time.perf_counter()
    steps = {
        "cpython": lambda: bench_cpython(results, config["cpython_sizes"], config["runs"],
                                         config["growth"]),
        "memory": lambda: bench_memory(results, config["memory_size"]),
        "transfer": lambda: bench_transfer(results, config["transfer_size"], config["runs"]),
        "providers": lambda: bench_providers(results, config["providers_sizes"], config["runs"]),
        "node": lambda: bench_node(results, config["sizes"], config["runs"]),
        "chromium": lambda: bench_chromium(results, config["sizes"], config["runs"]),
        "model": lambda: bench_model(results, "model", config["model"], config["runs"]),
        "model-chromium": lambda: bench_model(results, "model-chromium", config["model"],
                                              config["runs"]),
        "sync": lambda: bench_sync(results, config["sync_size"], config["sync_runs"]),
        "sync-chromium": lambda: bench_sync_chromium(results, config["sync_chromium_size"]),
    }
    for env in envs:
        log(f"bench: {env} …")
        t = time.perf_counter()
        try:
            steps[env]()
        except Exception as exc:  # report it, run the others, exit non-zero at the end
            traceback.print_exc()
            results.errors[env] = f"{type(exc).__name__}: {str(exc).strip()[:1500]}"
        results.meta[f"{env}_seconds"] = round(time.perf_counter() - t, 1)
    results.meta["total_seconds"] = round(time.perf_counter() - t0, 1)

    print(results.table())
    parts = ", ".join(f"{e} {results.meta[e + '_seconds']} s" for e in envs)
    print(f"\ntotal {results.meta['total_seconds']} s ({parts})")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results.to_json(), indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out.relative_to(REPO) if args.out.is_relative_to(REPO) else args.out}")
    if results.errors:
        print(f"FAILED: {len(results.errors)} benchmark error(s): {', '.join(results.errors)}",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
