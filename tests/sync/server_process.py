"""A real sync server process for the tests: ``python -m pyidb.sync.server`` on a free port.

    with ServerProcess(tmp_path, SCHEMA, tokens={"t1": "alice"}) as server:
        httpx.post(server.url + "/pull", ...)

``kill()`` sends SIGKILL (the crash tests); ``start()`` again restarts on the same database.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]


class ServerProcess:
    def __init__(self, tmp: Path, schema: str, *, tokens: dict[str, str], db: str | None = None,
                 schema_version: int = 1, policies: dict | None = None, env: dict | None = None,
                 cors_origin: str | None = None) -> None:
        self.tmp = tmp
        (tmp / "schema.prisma").write_text(schema)
        (tmp / "tokens.json").write_text(json.dumps(tokens))
        self.db = db or f"sqlite:///{tmp / 'server.db'}"
        self.schema_version, self.policies, self.env = schema_version, policies, env or {}
        self.cors_origin = cors_origin
        self.proc: subprocess.Popen | None = None
        self.url = ""

    def start(self) -> ServerProcess:
        args = [sys.executable, "-m", "pyidb.sync.server", "--schema", str(self.tmp / "schema.prisma"),
                "--db", self.db, "--port", "0", "--tokens", str(self.tmp / "tokens.json"),
                "--schema-version", str(self.schema_version)]
        if self.policies:
            args += ["--policies", json.dumps(self.policies)]
        if self.cors_origin:
            args += ["--cors-origin", self.cors_origin]
        self.proc = subprocess.Popen(args, cwd=REPO, stdout=subprocess.PIPE, text=True,
                                     env={**os.environ, "PYTHONUNBUFFERED": "1", **self.env})
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # blocks until the server listens (or dies)
        if "listening on" not in line:
            self.proc.wait(timeout=10)
            raise RuntimeError(f"the sync server did not start (exit {self.proc.returncode}): {line!r}")
        self.url = line.rsplit(" ", 1)[1].strip()
        return self

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs (what a crash or power cut does to the process)."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
        if self.proc and self.proc.stdout:
            self.proc.stdout.close()

    def post(self, path: str, body: dict, token: str) -> httpx.Response:
        return httpx.post(self.url + path, json=body, headers={"authorization": f"Bearer {token}"},
                          timeout=30)

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def wait_until(predicate, timeout: float = 20.0) -> None:
    """Poll a condition that another process makes true (not a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        time.sleep(0.02)
