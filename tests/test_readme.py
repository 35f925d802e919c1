"""The README's Python examples run as written (the quickstart on CPython)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def _run_block(marker: str, tmp_path: Path) -> list[str]:
    """Run the first README python block containing ``marker``; its stdout lines."""
    script = tmp_path / "example.py"
    script.write_text(next(b for b in _python_blocks() if marker in b))
    env = {"PYTHONPATH": str(README.parent), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         cwd=tmp_path, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip().splitlines()


def test_quickstart_runs_as_written(tmp_path: Path) -> None:
    lines = _run_block("asyncio.run(main())", tmp_path)
    assert lines[-1] == "1"
    assert "'seen': True" in lines[0] and "'ship pyidb'" in lines[0]


def test_wrapping_example_runs_as_written(tmp_path: Path) -> None:
    assert _run_block("pyidb.wrap(", tmp_path) == ["['notes'] [('put', 'notes'), ('delete', 'notes')]",
                     "vetoed: no object store named 'secrets'"]


def test_reliability_example_runs_as_written(tmp_path: Path) -> None:
    assert _run_block("LockTimeoutError", tmp_path)[-1] == "[]"
    assert (tmp_path / "reliable.db").exists()


def test_use_it_in_snippets_are_the_examples_the_tests_run() -> None:
    """Each "Use it in ..." block is an excerpt of the example file it names, and every example
    (tests/test_use_in.py runs them in Chromium) is shown."""
    text = README.read_text()
    blocks = re.findall(r"<!-- example: (\S+) -->\n```\w*\n(.*?)```", text, flags=re.S)
    assert blocks
    for path, block in blocks:
        assert block in (README.parent / path).read_text(), f"README block differs from {path}"
    examples = {f"examples/{p.name}" for p in (README.parent / "examples").iterdir()}
    assert {path for path, _ in blocks} == examples


def test_the_tour_notebook_starts_with_the_readmes_install_line() -> None:
    tour = json.loads((README.parent / "notebooks" / "pyidb-tour.ipynb").read_text())
    first_code = next(c for c in tour["cells"] if c["cell_type"] == "code")
    assert "".join(first_code["source"]).strip() == "%pip install pyidb"
    assert "```python\n%pip install pyidb\n```" in README.read_text()


def test_get_all_records_example_runs_as_written(tmp_path: Path) -> None:
    assert _run_block("asyncio.run(records())", tmp_path) == [
        "[(3, 'Bedrock Nights'), (2, 'Water Buffaloes')]", "Fred 1", "Barney 3", "[2, 1]"]


def test_model_client_example_runs_as_written(tmp_path: Path) -> None:
    """The model client's example prints what its comments promise."""
    example = next(b for b in _python_blocks() if "asyncio.run(demo())" in b)
    printed = _run_block("asyncio.run(demo())", tmp_path)
    promised = re.findall(r"# (\S.*)$", example.split("async def demo")[1], flags=re.M)
    promised = [p.split(" (")[0] for p in promised if not p.startswith("all or nothing")]
    assert printed == promised, (printed, promised)


def test_rename_example_runs_as_written(tmp_path: Path) -> None:
    assert _run_block('store.name = "volumes"', tmp_path) == [
        "['volumes'] [{'title': 'Emma', 'author': 'Austen'}]"]


def test_providers_config_host_and_plugin_examples_run_as_written(tmp_path: Path) -> None:
    import secrets

    text = README.read_text()
    (tmp_path / "host.toml").write_text(re.search(r"```toml\n(.*?)```", text, flags=re.S).group(1))
    host_block = next(b for b in _python_blocks() if "Host.from_config" in b)
    plugin_block = next(b for b in _python_blocks() if "PYIDB_SOCKET" in b)
    token = secrets.token_hex(16)
    env = {"PYTHONPATH": str(README.parent), "PATH": "/usr/bin:/bin",
           "APP_DATABASE_URL": f"sqlite:///{tmp_path / 'hub.db'}", "WORKPLACE_HUB_TOKEN": token}
    (tmp_path / "host_example.py").write_text(host_block)
    out = subprocess.run([sys.executable, "host_example.py"], capture_output=True, text=True,
                         cwd=tmp_path, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "['tasks']"
    assert (tmp_path / "gestalt.db").exists() and (tmp_path / "hub.db").exists()

    sock = str(tmp_path / "idb.sock")
    host = subprocess.Popen([sys.executable, "-m", "pyidb.host", "serve", "--config", "host.toml",
                             "--socket", sock], cwd=tmp_path, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert host.stdout is not None and host.stdout.readline().startswith("serving on")
        (tmp_path / "plugin.py").write_text(plugin_block)
        plugin_env = {"PYTHONPATH": str(README.parent), "PATH": "/usr/bin:/bin",
                      "PYIDB_SOCKET": sock, "PYIDB_TOKEN": token}
        out = subprocess.run([sys.executable, "plugin.py"], capture_output=True, text=True,
                             cwd=tmp_path, env=plugin_env, timeout=60)
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == "{'title': 'ship', 'done': True}"
    finally:
        host.terminate()
        host.wait(timeout=30)
    check = (
        "import asyncio, pyidb\nfrom pyidb.host import Host\n"
        "async def main():\n"
        "    host = Host.from_config('host.toml')\n"
        "    async with await host.factory_for('workplace_hub').open('main') as db:\n"
        "        print(await db.get('tasks', 1))\n"
        "    host.close()\n"
        "asyncio.run(main())\n"
    )
    out = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True,
                         cwd=tmp_path, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "{'title': 'ship', 'done': True}"  # the plugin's write, in hub.db
