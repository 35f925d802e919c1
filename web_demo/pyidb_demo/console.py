"""A small Python console over the open database: top-level ``await``, output or traceback.

>>> ns = namespace(db)
>>> result = await run("await db.count('tasks')", ns)
>>> result.ok, result.output
(True, '3')

In Pyodide the code runs through Pyodide's own ``pyodide.code.eval_code_async`` (what
``runPythonAsync`` uses); on CPython (the unit tests) through :func:`eval_code_async`, which
does the same: compile with ``ast.PyCF_ALLOW_TOP_LEVEL_AWAIT`` and return the last expression.
"""

from __future__ import annotations

import ast
import contextlib
import inspect
import io
import os
import pprint
import traceback
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import pyidb

__all__ = ["FILENAME", "SNIPPETS", "ConsoleResult", "eval_code_async", "namespace", "run"]

FILENAME = "<console>"
MAX_OUTPUT = 20_000  # characters shown; a huge repr would freeze the page
_PYIDB_DIR = os.path.dirname(pyidb.__file__) + os.sep

SNIPPETS: list[tuple[str, str]] = [
    ("Count by tag", '''\
# Tasks per tag: a key cursor over the multiEntry
# index "by_tag", and a count request per tag
tx = db.transaction("tasks")
by_tag = tx.object_store("tasks").index("by_tag")
counts = {}
cursors = by_tag.open_key_cursor(direction="nextunique")
async for cursor in cursors:
    counts[cursor.key] = await by_tag.count(cursor.key)
counts
'''),
    ("KeyRange query", '''\
# Open tasks due in the next 7 days:
# a KeyRange over the "by_due" index
from datetime import date, timedelta
today = date.today().isoformat()
week = (date.today() + timedelta(days=7)).isoformat()
due = await db.get_all_from_index(
    "tasks", "by_due", pyidb.KeyRange.bound(today, week))
[(t["due"], t["title"]) for t in due if not t["done"]]
'''),
    ("Cursor loop", '''\
# Newest first: a cursor walking the "by_created"
# index backwards
tx = db.transaction("tasks")
index = tx.object_store("tasks").index("by_created")
async for cursor in index.open_cursor(direction="prev"):
    t = cursor.value
    when = f"{t['created']:%b %d %H:%M}"
    print(when, "[x]" if t["done"] else "[ ]", t["title"])
'''),
    ("Transaction", '''\
# Complete every open task tagged "work",
# all in one readwrite transaction
completed = 0
async with db.transaction("tasks", "readwrite") as tx:
    work = tx.object_store("tasks").index("by_tag")
    async for cursor in work.open_cursor("work"):
        if not cursor.value["done"]:
            await cursor.update({**cursor.value, "done": 1})
            completed += 1
f"completed {completed} task(s)"
'''),
    ("Schema", '''\
# The schema: stores, key paths and indexes
tx = db.transaction(db.object_store_names)
schema = {}
for name in db.object_store_names:
    store = tx.object_store(name)
    schema[name] = {
        "key_path": store.key_path,
        "auto_increment": store.auto_increment,
        "indexes": {i: store.index(i).key_path
                    for i in store.index_names}}
schema
'''),
    ("Model client", '''\
# pyidb.model: Prisma-style models and queries
# (here on a database of its own) over IndexedDB
from pyidb.model import Client, Schema
schema = Schema.from_prisma("""
model Note {
  id    Int      @id @default(autoincrement())
  text  String
  tags  String[]
  stars Int      @default(0)
  @@index([tags])
}""")
notes = await Client.open("pyidb-demo-notes", schema,
                          factory=pyidb.default_factory())
await notes.note.delete_many()
await notes.note.create_many(data=[
    {"text": "try pyidb.model", "tags": ["py"], "stars": 3},
    {"text": "read the README", "tags": ["py", "docs"]}])
found = await notes.note.find_many(
    where={"tags": {"has": "py"}}, order={"stars": "desc"})
notes.close()
[(n["text"], n["stars"]) for n in found]
'''),
    ("An error", '''\
# IndexedDB errors are Python exceptions named as
# in JS: adding a record whose key exists fails
first = (await db.get_all("tasks", count=1))[0]
try:
    await db.add("tasks", first)
except pyidb.ConstraintError as e:
    print(type(e).__name__, "-", e)
await db.count("tasks")
'''),
]
"""(button label, code) pairs the console offers a click away."""


@dataclass
class ConsoleResult:
    """What one run printed and returned (``ok``), or its traceback (not ``ok``)."""

    ok: bool
    output: str


def namespace(db: pyidb.Database) -> dict[str, Any]:
    """A fresh namespace for the console: ``db``, ``pyidb`` and ``KeyRange``."""
    return {"__name__": "__console__", "db": db, "pyidb": pyidb, "KeyRange": pyidb.KeyRange}


async def eval_code_async(source: str, globals: dict[str, Any]) -> Any:
    """Run ``source`` in ``globals`` with top-level ``await``; the last expression's value.

    >>> await eval_code_async("x = await request\\nx + 1", ns)
    """
    tree = ast.parse(source, FILENAME, "exec")
    last: ast.expr | None = None
    if tree.body and isinstance(tree.body[-1], ast.Expr) and not source.rstrip().endswith(";"):
        last = tree.body.pop().value
    flags = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
    parts: list[Any] = [compile(tree, FILENAME, "exec", flags=flags)]
    if last is not None:
        parts.append(compile(ast.Expression(last), FILENAME, "eval", flags=flags))
    result = None
    for code in parts:
        result = eval(code, globals)
        if code.co_flags & inspect.CO_COROUTINE:  # it awaits: eval made a coroutine
            result = await result
    return result


def _evaluator() -> Callable[[str, dict[str, Any]], Coroutine[Any, Any, Any]]:
    try:
        from pyodide.code import eval_code_async as pyodide_eval
    except ImportError:
        return eval_code_async

    async def run_in_pyodide(source: str, globals: dict[str, Any]) -> Any:
        return await pyodide_eval(source, globals, filename=FILENAME)

    return run_in_pyodide


def _traceback(error: BaseException) -> str:
    """The user's frames and the error: from the first ``<console>`` line down, leaving out the
    console's own frames above it and pyidb's internals below (how pyidb raised is noise)."""
    frames = traceback.extract_tb(error.__traceback__)
    start = next((i for i, f in enumerate(frames) if f.filename == FILENAME), None)
    error_text = "".join(traceback.format_exception_only(type(error), error))
    if isinstance(error, SyntaxError) or start is None:
        return error_text
    shown = [f for f in frames[start:] if not f.filename.startswith(_PYIDB_DIR)]
    return "Traceback (most recent call last):\n" + "".join(traceback.format_list(shown)) + error_text


def _clip(text: str) -> str:
    if len(text) <= MAX_OUTPUT:
        return text
    return text[:MAX_OUTPUT] + f"\n… ({len(text) - MAX_OUTPUT} more characters not shown)"


async def run(source: str, globals: dict[str, Any]) -> ConsoleResult:
    """Run console input; printed text, then the result's pretty repr (``_`` holds the result)."""
    out = io.StringIO()
    evaluate = _evaluator()
    try:
        # One run at a time (the page disables Run meanwhile), so redirecting stdout is safe.
        with contextlib.redirect_stdout(out):
            result = await evaluate(source, globals)
    except Exception as e:
        return ConsoleResult(False, _clip(out.getvalue() + _traceback(e)))
    text = out.getvalue()
    if result is not None:
        globals["_"] = result
        text += pprint.pformat(result, width=88, sort_dicts=False)
    return ConsoleResult(True, _clip(text.rstrip("\n")))
