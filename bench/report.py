"""Medians, ratios, targets and the printed table of a benchmark run.

>>> r = Results(); r.add("cpython", "sqlite3", 10_000, "write", [61.0, 63.5, 60.2])
>>> r.median("cpython", "sqlite3", 10_000, "write")
61.0
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

UNITS = {"point_get": "µs/op"}  # everything else is ms for the whole workload
ORDER = ("write", "get_put", "get_all", "cursor", "index_range", "get_all_records", "get_all+keys",
         "point_get", "export", "import", "find_eq", "find_range", "order_take", "create_many", "push",
         "pull", "longest_task", "first_result")

# Environment -> (title, implementations measured, which are the baselines).
ENVS: dict[str, tuple[str, list[str], list[str]]] = {
    "chromium": ("Chromium: real IndexedDB", ["raw JS", "Dexie", "pyidb"], ["raw JS", "Dexie"]),
    "node": ("Node: pyidb engine in Pyodide (memory:) vs fake-indexeddb",
             ["fake-indexeddb", "pyidb pyodide memory:"], ["fake-indexeddb"]),
    "cpython": ("CPython: pyidb engine vs plain sqlite3",
                ["sqlite3", "pyidb memory:", "pyidb sqlite:"], ["sqlite3"]),
    "transfer": ("CPython: whole-database export/import vs json.dump/json.load of the same records",
                 ["json", "pyidb memory:", "pyidb sqlite:"], ["json"]),
    "providers": ("CPython: pyidb on PostgreSQL vs plain psycopg; the host socket vs in-process",
                  ["psycopg", "pyidb postgresql:", "pyidb memory: in-process", "pyidb memory: socket"],
                  ["psycopg", "pyidb memory: in-process"]),
    **{env: (f"{title}: pyidb.model vs the same work on the raw pyidb API",
             ["raw pyidb", "raw pyidb (table/10)", "pyidb.model", "pyidb.model (table/10)"],
             ["raw pyidb"])
       for env, title in (("model", "CPython memory:"), ("model-chromium", "Chromium"))},
    "sync": ("Sync: model client -> HTTP -> server on SQLite (batches/pages of 500) vs the same records "
             "moved without the protocol (bench/sync_bench.py)", ["raw inserts", "pyidb.sync"],
             ["raw inserts"]),
    "sync-chromium": ("Sync pull into Chromium (pages of 500): total, and the page's longest task "
                      "(bar: 200 ms)", ["pyidb.sync"], []),
}


@dataclass(frozen=True)
class Target:
    """``subject`` / ``baseline`` for ``workload`` must be <= ``limit`` (n None: largest size)."""

    label: str
    env: str
    subject: str
    workload: str
    limit: float
    baseline_env: str
    baseline: str
    n: int | None = None
    baseline_workload: str | None = None  # another workload of the baseline (default: the same)


TARGETS = [
    # issue 15 (performance round 2): Chromium vs raw IndexedDB (Dexie for reference)
    Target("Chromium put_many <= 1.0x raw JS puts in one tx", "chromium", "pyidb", "write", 1.0,
           "chromium", "raw JS"),
    Target("Chromium put_many <= 1.0x Dexie bulkPut", "chromium", "pyidb", "write", 1.0,
           "chromium", "Dexie"),
    Target("Chromium get_all <= 1.3x raw getAll", "chromium", "pyidb", "get_all", 1.3,
           "chromium", "raw JS"),
    Target("Chromium get_all_records <= 1.5x raw getAllRecords", "chromium", "pyidb",
           "get_all_records", 1.5, "chromium", "raw JS"),
    # informational: one request against the two it replaces, both pyidb
    Target("Chromium get_all_records <= 1.0x pyidb get_all + get_all_keys", "chromium", "pyidb",
           "get_all_records", 1.0, "chromium", "pyidb", baseline_workload="get_all+keys"),
    Target("Chromium awaited get+put loop <= 1.5x raw JS", "chromium", "pyidb", "get_put", 1.5,
           "chromium", "raw JS"),
    Target("Chromium cursor walk <= 1.5x raw JS", "chromium", "pyidb", "cursor", 1.5,
           "chromium", "raw JS"),
    Target("Chromium index range (1,000) <= 1.3x raw JS", "chromium", "pyidb", "index_range", 1.3,
           "chromium", "raw JS"),
    *[Target(f"CPython memory {w} <= 1.0x fake-indexeddb (Node)", "cpython", "pyidb memory:", w,
             1.0, "node", "fake-indexeddb")
      for w in ("write", "get_put", "get_all", "cursor", "index_range")],
    *[Target(f"Pyodide-in-Node engine {w} <= 2.0x fake-indexeddb", "node", "pyidb pyodide memory:",
             w, 2.0, "node", "fake-indexeddb")
      for w in ("write", "get_put", "cursor")],
    Target("CPython sqlite bulk write <= 2x sqlite3 executemany", "cpython", "pyidb sqlite:",
           "write", 2.0, "cpython", "sqlite3"),
    Target("CPython sqlite cursor walk <= 2x sqlite3 SELECT", "cpython", "pyidb sqlite:",
           "cursor", 2.0, "cpython", "sqlite3"),
    Target("CPython sqlite point get <= 2x indexed SELECT", "cpython", "pyidb sqlite:",
           "point_get", 2.0, "cpython", "sqlite3"),
    *[Target(f"CPython {side} of a database ({impl[6:]}) <= 2x json", "transfer", impl, side,
             2.0, "transfer", "json")
      for side in ("export", "import") for impl in ("pyidb memory:", "pyidb sqlite:")],
    Target("PostgreSQL bulk write <= 3x psycopg COPY", "providers", "pyidb postgresql:", "write", 3.0,
           "providers", "psycopg"),
    Target("PostgreSQL point get <= 2x indexed SELECT", "providers", "pyidb postgresql:", "point_get",
           2.0, "providers", "psycopg"),
]
for _env, _where in (("model", "CPython"), ("model-chromium", "Chromium")):
    TARGETS += [
        Target(f"{_where} model find_many indexed equality take=20 <= 1.5x raw index get_all",
               _env, "pyidb.model", "find_eq", 1.5, _env, "raw pyidb"),
        Target(f"{_where} model find_many indexed range take=20 <= 1.5x raw index get_all",
               _env, "pyidb.model", "find_range", 1.5, _env, "raw pyidb"),
        Target(f"{_where} model order+take=20: full table vs a tenth of it <= 1.5x", _env,
               "pyidb.model", "order_take", 1.5, _env, "pyidb.model (table/10)"),
        Target(f"{_where} raw prev cursor, 20 records: full table vs a tenth (for reference)",
               _env, "raw pyidb", "order_take", 1.5, _env, "raw pyidb (table/10)"),
        Target(f"{_where} model create_many <= 1.3x raw put_many", _env, "pyidb.model",
               "create_many", 1.3, _env, "raw pyidb", n=None),
    ]
TARGETS += [Target(f"Sync {w} end to end <= 3x the same raw work", "sync", "pyidb.sync", w,
                  3.0, "sync", "raw inserts") for w in ("push", "pull")]
GROWTH_LIMIT = 1.2
MEMORY_LIMIT = 2.0  # bytes the memory: engine holds per record / the record's compact JSON bytes


@dataclass
class Results:
    """Every measured run, keyed (env, impl, n, workload) -> [ms or µs/op per run]."""

    runs: dict[tuple[str, str, int, str], list[float]] = field(default_factory=dict)
    growth: dict[int, dict[str, float]] = field(default_factory=dict)  # n -> op -> µs/op
    memory: dict[int, dict[str, float]] = field(default_factory=dict)  # n -> bytes per record
    errors: dict[str, str] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def add(self, env: str, impl: str, n: int, workload: str, values: list[float]) -> None:
        self.runs[(env, impl, n, workload)] = list(values)

    def median(self, env: str, impl: str, n: int, workload: str) -> float | None:
        values = self.runs.get((env, impl, n, workload))
        return statistics.median(values) if values else None

    def sizes(self, env: str) -> list[int]:
        return sorted({n for (e, _, n, _) in self.runs if e == env})

    def _sizes_of(self, env: str, workload: str) -> set[int]:
        return {n for (e, _, n, w) in self.runs if e == env and w == workload}

    def ratio(self, env: str, impl: str, n: int, workload: str, base_env: str, base: str,
              base_workload: str | None = None) -> float | None:
        top = self.median(env, impl, n, workload)
        bottom = self.median(base_env, base, n, base_workload or workload)
        if top is None or not bottom:
            return None
        return top / bottom

    def targets(self) -> list[dict[str, Any]]:
        rows = []
        for t in TARGETS:
            sizes = sorted(self._sizes_of(t.env, t.workload)
                           & self._sizes_of(t.baseline_env, t.baseline_workload or t.workload))
            n = t.n if t.n is not None else (sizes[-1] if sizes else None)
            ratio = None if n is None else self.ratio(t.env, t.subject, n, t.workload,
                                                      t.baseline_env, t.baseline,
                                                      t.baseline_workload)
            rows.append({"target": t.label, "n": n, "ratio": ratio, "limit": t.limit,
                         "status": "n/a" if ratio is None else
                         ("met" if ratio <= t.limit else "missed")})
        small, large = (min(self.growth), max(self.growth)) if len(self.growth) >= 2 else (0, 0)
        for op in ("get", "put", "seek"):
            ratio = None
            if small != large:
                ratio = self.growth[large][op] / self.growth[small][op]
            sizes = f" {large:,} vs {small:,}" if small != large else ""
            rows.append({"target": f"CPython memory per-op {op} growth{sizes} <= {GROWTH_LIMIT}x",
                         "n": large or None, "ratio": ratio,
                         "limit": GROWTH_LIMIT, "status": "n/a" if ratio is None else
                         ("met" if ratio <= GROWTH_LIMIT else "missed")})
        for n, m in sorted(self.memory.items()):
            rows.append({"target": f"CPython memory: bytes held per record <= {MEMORY_LIMIT}x "
                                   "its JSON", "n": n, "ratio": m["ratio"], "limit": MEMORY_LIMIT,
                         "status": "met" if m["ratio"] <= MEMORY_LIMIT else "missed"})
        return rows

    def to_json(self) -> dict[str, Any]:
        measurements = [
            {"env": e, "impl": i, "n": n, "workload": w, "unit": UNITS.get(w, "ms"),
             "median": statistics.median(v), "runs": v}
            for (e, i, n, w), v in sorted(self.runs.items())
        ]
        ratios = []
        for env, (_, impls, bases) in ENVS.items():
            for n in self.sizes(env):
                for w in ORDER:
                    for impl in impls:
                        for base in bases:
                            if impls.index(base) >= impls.index(impl):
                                continue
                            r = self.ratio(env, impl, n, w, env, base)
                            if r is not None:
                                ratios.append({"env": env, "n": n, "workload": w, "impl": impl,
                                               "baseline": base, "ratio": r})
        growth = {str(n): ops for n, ops in sorted(self.growth.items())}
        return {"meta": self.meta, "measurements": measurements, "ratios": ratios,
                "growth_us_per_op": growth,
                "memory_bytes_per_record": {str(n): m for n, m in sorted(self.memory.items())},
                "targets": self.targets(), "errors": self.errors}

    # -- the printed table ------------------------------------------------------------------
    def table(self) -> str:
        lines: list[str] = []
        for env, (title, impls, bases) in ENVS.items():
            sizes = self.sizes(env)
            if not sizes and env not in self.errors:
                continue
            runs = {len(v) for (e, *_), v in self.runs.items() if e == env}
            lines.append(f"== {title} (median of {'/'.join(map(str, sorted(runs))) or '0'} runs) ==")
            if env in self.errors:
                lines.append(f"   ERROR: {self.errors[env]}")
            present = [i for i in impls if any(k[0] == env and k[1] == i for k in self.runs)]
            # Each implementation over every baseline listed before it (Dexie / raw JS too).
            pairs = [(i, b) for i in present for b in bases
                     if b in present and impls.index(b) < impls.index(i)]
            head = ["workload", "unit", "N", *present, *[f"{i} / {b}" for i, b in pairs]]
            body = []
            for n in sizes:
                for w in ORDER:
                    if not any(self.median(env, i, n, w) is not None for i in present):
                        continue
                    cells = [w, UNITS.get(w, "ms"), f"{n:,}"]
                    for i in present:
                        m = self.median(env, i, n, w)
                        if m is not None and UNITS.get(w):
                            m *= 1000  # stored in ms per op
                        cells.append("-" if m is None else f"{m:.3g}" if m < 10 else f"{m:,.0f}")
                    for i, b in pairs:
                        r = self.ratio(env, i, n, w, env, b)
                        cells.append("-" if r is None else f"{r:.2f}x")
                    body.append(cells)
            lines += _grid(head, body)
            lines.append("")
        for key, message in self.errors.items():
            if key not in ENVS:
                lines.append(f"ERROR {key}: {message}")
        if self.growth:
            lines.append("== CPython memory: per-operation cost vs size (µs/op, 1,000 ops) ==")
            sizes = sorted(self.growth)
            head = ["op", *[f"N={n:,}" for n in sizes], f"growth {sizes[-1]:,}/{sizes[0]:,}"]
            body = [[op, *[f"{self.growth[n][op]:.1f}" for n in sizes],
                     f"{self.growth[sizes[-1]][op] / self.growth[sizes[0]][op]:.2f}x"]
                    for op in ("get", "put", "seek")]
            lines += _grid(head, body)
            lines.append("")
        if self.memory:
            lines.append("== CPython memory: engine: bytes held per record (tracemalloc) ==")
            lines += _grid(["N", "engine", "records' JSON", "ratio"],
                           [[f"{n:,}", f"{m['engine']:.0f}", f"{m['json']:.0f}", f"{m['ratio']:.2f}x"]
                            for n, m in sorted(self.memory.items())])
            lines.append("")
        lines.append("== Targets ==")
        body = [[t["target"], "-" if t["n"] is None else f"{t['n']:,}",
                 "-" if t["ratio"] is None else f"{t['ratio']:.2f}x", f"<= {t['limit']}x",
                 t["status"]] for t in self.targets()]
        lines += _grid(["target", "N", "ratio", "limit", "status"], body)
        return "\n".join(lines)


def _grid(head: list[str], body: list[list[str]]) -> list[str]:
    widths = [max(len(r[c]) for r in [head, *body]) for c in range(len(head))]

    def fmt(row: list[str]) -> str:
        return "  ".join(cell.ljust(w) if c == 0 else cell.rjust(w)
                         for c, (cell, w) in enumerate(zip(row, widths, strict=True)))

    return [fmt(head), "  ".join("-" * w for w in widths), *[fmt(r) for r in body]]
