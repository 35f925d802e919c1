"""The benchmarks must not rot: run them once at tiny sizes (speed is never asserted here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_bench_quick_runs_every_benchmark(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "bench", "--quick"], cwd=ROOT, capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    results = json.loads((ROOT / "bench" / "results" / "latest.json").read_text())
    assert results["meta"]["mode"] == "quick"
    assert not results["errors"], results["errors"]
    environments = {m["env"] for m in results["measurements"]}
    assert len(environments) >= 3, environments  # CPython, Node and Chromium all ran
    measured = {(m["env"], m["impl"], m["workload"]) for m in results["measurements"]}
    for impl in ("raw JS", "pyidb"):  # get_all_records against raw getAllRecords, in Chromium
        for workload in ("get_all_records", "get_all+keys"):
            assert ("chromium", impl, workload) in measured, (impl, workload)
    memory = results["memory_bytes_per_record"]["3000"]  # the memory-per-record workload ran
    assert memory["engine"] > memory["json"] > 0, memory
    first = [m for m in results["measurements"] if m["workload"] == "first_result"]
    assert first and first[0]["median"] > 0, first  # Chromium: import, open, first get
