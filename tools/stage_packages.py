"""Offline package staging for the site: extra wheels in the Pyodide folder, and a PEP 503 index.

The npm ``pyodide`` package holds the runtime but none of its packages, and its
``pyodide-lock.json`` names Pyodide's own builds of them, whose sha256 differs from PyPI's
wheels. ``lock`` copies PyPI wheels next to the lock file and rewrites (or adds) their entries, so
``pyodide.loadPackage("micropip")`` and micropip's dependency resolution work with no network::

    python tools/stage_packages.py lock site/pyodide dist/pyodide-packages/*.whl

``simple`` writes a PEP 503 "simple" index of wheels (links relative to the index, with their
sha256), what ``micropip.install("pyidb", index_urls=[".../simple"])`` and pip read::

    python tools/stage_packages.py simple site/simple site/wheels/*.whl
"""

from __future__ import annotations

import argparse
import email.parser
import hashlib
import html
import json
import os
import re
import shutil
import zipfile
from pathlib import Path


def normalize(name: str) -> str:
    """PEP 503 name normalization: ``Prompt_Toolkit`` -> ``prompt-toolkit``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def wheel_metadata(path: Path) -> tuple[str, str, list[str]]:
    """(name, version, top-level import names) read from the wheel itself."""
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        meta_name = next(n for n in names if n.endswith(".dist-info/METADATA"))
        meta = email.parser.Parser().parsestr(zf.read(meta_name).decode("utf-8"))
    tops = set()
    for n in names:
        head, sep, _ = n.partition("/")
        if sep and not head.endswith((".dist-info", ".data")):
            tops.add(head)  # a package folder
        elif not sep and n.endswith(".py"):
            tops.add(n.removesuffix(".py"))  # a top-level module
    return meta["Name"], meta["Version"], sorted(tops)


def stage_lock(pyodide_dir: Path, wheels: list[Path]) -> list[str]:
    """Copy ``wheels`` into ``pyodide_dir`` and point its pyodide-lock.json at them; the names."""
    lock_path = pyodide_dir / "pyodide-lock.json"
    lock = json.loads(lock_path.read_text(encoding="utf-8"))
    packages = lock["packages"]
    by_normal = {normalize(key): key for key in packages}
    staged = []
    for wheel in wheels:
        name, version, tops = wheel_metadata(wheel)
        key = by_normal.get(normalize(name))
        if key is None:  # not a Pyodide package at all (e.g. comm): a plain pure-Python entry
            key = normalize(name)
            packages[key] = {"name": key, "depends": [], "imports": tops, "install_dir": "site",
                             "package_type": "package", "unvendored_tests": False, "tool": {}}
        shutil.copyfile(wheel, pyodide_dir / wheel.name)
        packages[key].update(file_name=wheel.name, version=version, sha256=sha256(wheel))
        staged.append(f"{key} {version}")
    tmp = lock_path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(lock), encoding="utf-8")
    os.replace(tmp, lock_path)
    return staged


def write_simple_index(simple_dir: Path, wheels: list[Path]) -> list[str]:
    """A PEP 503 index of ``wheels`` under ``simple_dir`` (links relative to each project page)."""
    projects: dict[str, list[Path]] = {}
    for wheel in wheels:
        projects.setdefault(normalize(wheel_metadata(wheel)[0]), []).append(wheel)
    simple_dir.mkdir(parents=True, exist_ok=True)
    for project, files in sorted(projects.items()):
        page = simple_dir / project
        page.mkdir(exist_ok=True)
        links = "\n".join(
            f'<a href="{html.escape(os.path.relpath(f.resolve(), page.resolve()))}'
            f'#sha256={sha256(f)}">{html.escape(f.name)}</a><br>' for f in sorted(files))
        (page / "index.html").write_text(
            f"<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>Links for {project}"
            f"</title></head><body>\n<h1>Links for {project}</h1>\n{links}\n</body></html>\n",
            encoding="utf-8")
    root_links = "\n".join(f'<a href="{p}/">{p}</a><br>' for p in sorted(projects))
    (simple_dir / "index.html").write_text(
        f"<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>Simple index</title></head>"
        f"<body>\n{root_links}\n</body></html>\n", encoding="utf-8")
    return sorted(projects)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    lock = sub.add_parser("lock", help="stage wheels into a Pyodide folder and fix its lock file")
    lock.add_argument("pyodide_dir", type=Path)
    lock.add_argument("wheels", type=Path, nargs="+")
    simple = sub.add_parser("simple", help="write a PEP 503 index of wheels")
    simple.add_argument("simple_dir", type=Path)
    simple.add_argument("wheels", type=Path, nargs="+")
    args = parser.parse_args()
    if args.command == "lock":
        print("pyodide-lock.json:", ", ".join(stage_lock(args.pyodide_dir, args.wheels)))
    else:
        print("simple index:", ", ".join(write_simple_index(args.simple_dir, args.wheels)))


if __name__ == "__main__":
    main()
