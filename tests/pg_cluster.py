"""A throwaway PostgreSQL cluster for tests and benchmarks: initdb in a temp dir, a free port.

    with PgCluster.start() as cluster:        # raises PgUnavailable if PostgreSQL is not installed
        url = cluster.url                      # postgresql://postgres@127.0.0.1:PORT/postgres

As root (CI, the dev machines) the server runs as the ``postgres`` user (``runuser``): PostgreSQL
refuses to run as root. It listens on 127.0.0.1 and a Unix socket in the temp dir only, with
``trust`` authentication, and is stopped and deleted on exit. ``fsync=off``: a test cluster
lives for one run, and no test pulls the power; the commit path pyidb exercises is the same.
``./build.sh setup`` installs Debian's ``postgresql`` package when the binaries are missing.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType


class PgUnavailable(RuntimeError):
    """PostgreSQL's server binaries are not installed (or the cluster would not start)."""


def find_bin_dir() -> Path | None:
    """The newest ``/usr/lib/postgresql/<version>/bin`` that has initdb, or PYIDB_PG_BIN."""
    env = os.environ.get("PYIDB_PG_BIN")
    if env:
        return Path(env)
    found = glob.glob("/usr/lib/postgresql/*/bin/initdb")
    if not found:
        return None
    return Path(max(found, key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgCluster:
    """A running throwaway cluster; ``url`` connects as the superuser ``postgres``."""

    def __init__(self, bin_dir: Path, root: Path, port: int) -> None:
        self.bin_dir = bin_dir
        self.root = root
        self.port = port
        self.url = f"postgresql://postgres@127.0.0.1:{port}/postgres"

    @classmethod
    def start(cls) -> PgCluster:
        bin_dir = find_bin_dir()
        if bin_dir is None or not (bin_dir / "initdb").exists():
            raise PgUnavailable(
                "PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin/initdb): "
                "run ./build.sh setup (installs Debian's postgresql) or set PYIDB_PG_BIN"
            )
        root = Path(tempfile.mkdtemp(prefix="pyidb-pg-"))
        if os.geteuid() == 0:
            shutil.chown(root, "postgres", "postgres")
        cluster = cls(bin_dir, root, 0)
        try:
            cluster._run("initdb", "-D", str(root / "data"), "-A", "trust", "-U", "postgres",
                         "-E", "UTF8", "--no-sync", "--locale=C")
            last = ""
            for _ in range(5):  # another process may take the free port before the server binds it
                cluster.port = _free_port()
                cluster.url = f"postgresql://postgres@127.0.0.1:{cluster.port}/postgres"
                options = (f"-p {cluster.port} -k {root} -c listen_addresses=127.0.0.1 "
                           "-c fsync=off -c max_connections=300 -c shared_buffers=32MB")
                try:
                    cluster._run("pg_ctl", "-D", str(root / "data"), "-l", str(root / "server.log"),
                                 "-w", "-t", "60", "-o", options, "start")
                    return cluster
                except PgUnavailable as exc:
                    last = str(exc)
            raise PgUnavailable(f"the PostgreSQL server would not start: {last}")
        except BaseException:
            shutil.rmtree(root, ignore_errors=True)
            raise

    def _run(self, tool: str, *args: str) -> None:
        cmd = [str(self.bin_dir / tool), *args]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=self.root, timeout=120)
        if done.returncode != 0:
            log = self.root / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise PgUnavailable(f"{tool} failed ({done.returncode}): {done.stderr.strip()}\n{tail}")

    def stop(self) -> None:
        """Stop the server (fast: nothing here needs a clean shutdown) and delete its files."""
        try:
            if (self.root / "data" / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", str(self.root / "data"), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PgCluster:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
