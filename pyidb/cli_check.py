"""``python -m pyidb check FILE...``: the full integrity check of pyidb SQLite files.

Prints each problem found and exits 1, or prints "ok" and exits 0 (2 for a usage error). It
never writes to the file. What it checks, and what no check can see, is in
:mod:`pyidb.engine.integrity` and the README's Reliability section.
"""

from __future__ import annotations

import os
import sys

# The check reads the engine's own file layout, so this tool sits on the engine, not on the
# public API (which would refuse a damaged file before it could say what is wrong with it).
from .engine.integrity import check_file


def main(argv: list[str]) -> int:
    if not argv or any(a.startswith("-") for a in argv):
        print("usage: python -m pyidb check FILE [FILE...]", file=sys.stderr)
        return 2
    status = 0
    for path in argv:
        if not os.path.isfile(path):
            print(f"{path}: no such file", file=sys.stderr)
            status = max(status, 2)
            continue
        problems = check_file(os.path.abspath(path))
        for problem in problems:
            print(f"{path}: {problem}")
        if problems:
            status = max(status, 1)
        else:
            print(f"{path}: ok")
    return status
