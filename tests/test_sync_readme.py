"""The README's sync example works as written: the server command of "terminal 1" (its shell
block, run by bash, with a free port instead of 8765) and the client of "terminal 2", twice."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def _section() -> str:
    text = README.read_text()
    return text[text.index("## Sync"):text.index("## Known limitations")]


def test_two_terminal_example(tmp_path: Path) -> None:
    section = _section()
    shell = re.search(r"```bash\n(.*?)```", section, flags=re.S).group(1)
    client = re.search(r"```python\n(.*?)```", section, flags=re.S).group(1)
    assert "--port 8765" in shell and "127.0.0.1:8765" in client
    venv_bin = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": f"{venv_bin}:/usr/bin:/bin", "PYTHONPATH": str(README.parent),
           "PYTHONUNBUFFERED": "1"}
    server = subprocess.Popen(["bash", "-c", shell.replace("--port 8765", "--port 0")], cwd=tmp_path,
                              env=env, stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        line = server.stdout.readline()
        assert "listening on" in line, line
        url = line.rsplit(" ", 1)[1].strip()
        (tmp_path / "client.py").write_text(client.replace("http://127.0.0.1:8765", url))
        outputs = []
        for _ in range(2):
            done = subprocess.run([sys.executable, "client.py"], cwd=tmp_path, env=env,
                                  capture_output=True, text=True, timeout=60)
            assert done.returncode == 0, done.stderr
            outputs.append(done.stdout.splitlines())
        assert "'pending': 1" in outputs[0][0]
        assert "'pushed': 1" in outputs[0][1] and outputs[0][2] == "1 notes"
        assert "'pushed': 1" in outputs[1][1] and outputs[1][2] == "2 notes"
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # bash and the server it started (its own group)
        server.wait(timeout=10)
        server.stdout.close()
