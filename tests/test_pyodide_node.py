"""The conformance suite inside Pyodide under Node, on pyidb's engine (the wheel installed offline).

One pytest test per conformance test id; the suite runs once per session in one Node process
(tests/runners/node_runner.mjs -> tests/runners/pyodide_runner.py) and each test here reports its
result, with the traceback from inside Pyodide on failure. Needs ``./build.sh`` (wheels, node_modules).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from runners.fixtures import (
    ARTIFACTS,
    REPO,
    RUNNERS,
    SUITE_TIMEOUT_S,
    TEST_TIMEOUT_S,
    Built,
    assert_result,
    built_site,  # noqa: F401  (a fixture)
    conformance_ids,
    pytest_id,
    selected_ids,
    suite_dir,
    unreported_ids,
)

MARKER = "@@PYIDB_RESULTS@@ "
IDS = conformance_ids()


@pytest.fixture(scope="session")
def node_results(built_site: Built, request: pytest.FixtureRequest,  # noqa: F811
                 tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed: run ./build.sh setup", pytrace=False)
    work = tmp_path_factory.mktemp("node-runner")
    command = [node, str(RUNNERS / "node_runner.mjs"), "--suite", str(suite_dir()),
               "--timeout", str(TEST_TIMEOUT_S)]
    for wheel in built_site.wheels:
        command += ["--wheel", str(wheel)]
    select = selected_ids(request, Path(__file__).name)
    if select is not None:
        (work / "select.json").write_text(json.dumps(select))
        command += ["--select", str(work / "select.json")]
    (work / "expected.json").write_text(json.dumps(IDS))
    command += ["--expected", str(work / "expected.json")]
    t0 = time.monotonic()
    try:
        done = subprocess.run(command, cwd=REPO, capture_output=True, text=True,
                              timeout=SUITE_TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"the Node runner did not finish in {SUITE_TIMEOUT_S} s:\n{exc.stderr!s:.4000}",
                    pytrace=False)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "node-runner.log").write_text(
        f"$ {' '.join(command)}\n# {time.monotonic() - t0:.1f} s, exit {done.returncode}\n"
        f"{done.stderr}\n{done.stdout}")
    lines = [line for line in done.stdout.splitlines() if line.startswith(MARKER)]
    if done.returncode != 0 or not lines:
        pytest.fail(f"the Node runner failed (exit {done.returncode}):\n{done.stderr[-4000:]}",
                    pytrace=False)
    return {r["id"]: r for r in json.loads(lines[-1][len(MARKER):])}


@pytest.mark.parametrize("test_id", IDS, ids=[pytest_id(i) for i in IDS])
def test_conformance(test_id: str, node_results: dict[str, dict[str, Any]]) -> None:
    assert_result(node_results, test_id, "pyodide-node")


def test_runner_found_no_test_the_host_missed(node_results: dict[str, dict[str, Any]]) -> None:
    """Every test the runner ran has a pytest test here (none would pass or fail unseen)."""
    assert not unreported_ids(node_results, IDS)
