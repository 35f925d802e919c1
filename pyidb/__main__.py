"""Command line: export a database to a file and import it back; check a SQLite file.

    python -m pyidb export URL NAME FILE          # e.g. export sqlite:///app.db notes notes.jsonl
    python -m pyidb import FILE URL NAME [--overwrite]
    python -m pyidb check FILE [FILE...]          # integrity check (pyidb/cli_check.py)

FILE ``-`` is standard output / input. A progress bar goes to standard error when it is a terminal
(``--progress`` forces it, ``--quiet`` silences it).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from typing import Any

from . import export_database, factory, import_database
from .errors import Error


class ProgressBar:
    """``[#####-----]  50%  500/1,000 records`` redrawn in place on a stream, at most 10 times/s."""

    def __init__(self, stream: Any, width: int = 30) -> None:
        self.stream, self.width, self._last = stream, width, 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - self._last < 0.1:
            return
        self._last = now
        filled = self.width * done // total if total else self.width
        percent = 100 * done // total if total else 100
        self.stream.write(f"\r[{'#' * filled}{'-' * (self.width - filled)}] {percent:3d}%  "
                          f"{done:,}/{total:,} records")
        if done >= total:
            self.stream.write("\n")
        self.stream.flush()


async def _export(args: argparse.Namespace, progress: Any) -> int:
    f = factory(args.url)
    if args.name not in [d["name"] for d in await f.databases()]:
        raise SystemExit(f"pyidb: no database {args.name!r} at {args.url}")
    db = await f.open(args.name)
    try:
        out = sys.stdout if args.file == "-" else args.file
        return await export_database(db, out, progress=progress)
    finally:
        db.close()


async def _import(args: argparse.Namespace, progress: Any) -> int:
    source = sys.stdin.buffer if args.file == "-" else args.file
    db = await import_database(factory(args.url), args.name, source, progress=progress,
                               overwrite=args.overwrite)
    try:
        return sum([await db.count(name) for name in db.object_store_names])
    finally:
        db.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pyidb", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    exp = commands.add_parser("export", help="write database NAME at URL to FILE")
    exp.add_argument("url"), exp.add_argument("name"), exp.add_argument("file")
    imp = commands.add_parser("import", help="create database NAME at URL from FILE")
    imp.add_argument("file"), imp.add_argument("url"), imp.add_argument("name")
    imp.add_argument("--overwrite", action="store_true", help="replace an existing database")
    for p in (exp, imp):
        p.add_argument("--progress", action="store_true", default=None, help="always show it")
        p.add_argument("--quiet", action="store_false", dest="progress", help="never show it")
    chk = commands.add_parser("check", help="integrity check of SQLite FILEs (exit 1 if damaged)")
    chk.add_argument("files", nargs="+", metavar="FILE")
    args = parser.parse_args(argv)
    if args.command == "check":
        from .cli_check import main as check

        return check(args.files)
    show = sys.stderr.isatty() if args.progress is None else args.progress
    progress = ProgressBar(sys.stderr) if show else None
    try:
        count = asyncio.run((_export if args.command == "export" else _import)(args, progress))
    except Error as e:
        print(f"pyidb: {e.name}: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"pyidb: {e}", file=sys.stderr)
        return 1
    verb = "exported" if args.command == "export" else "imported"
    print(f"{verb} {count:,} records", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
