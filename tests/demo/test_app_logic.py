"""The demo app's Python logic (web_demo/pyidb_demo) on CPython, on ``pyidb.factory("memory:")``.

The page runs the same modules on the browser's IndexedDB; tests/demo/test_demo_ui.py drives it.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from pyidb_demo import console, transfer, views
from pyidb_demo.tasks import Counts, TaskError, TaskList, View, normalize_tags

import pyidb

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


async def seeded() -> TaskList:
    """Four tasks with distinct created times, tags, due dates and one done."""
    tl = await TaskList.open(pyidb.factory("memory:"))
    await tl.add("write report", "work, urgent", "2025-03-10", now=T0)
    await tl.add("Buy milk", "home", None, now=T0 + timedelta(minutes=1))
    await tl.add("call Anna", "home work", "2025-03-05", now=T0 + timedelta(minutes=2))
    t = await tl.add("archive mail", "work", "2025-03-20", now=T0 + timedelta(minutes=3))
    await tl.set_done(t["id"], True, now=T0 + timedelta(hours=1))
    return tl


def titles(tasks: list[dict]) -> list[str]:
    return [t["title"] for t in tasks]


# -- tasks ------------------------------------------------------------------------------------
async def test_add_returns_the_stored_task_with_its_key() -> None:
    tl = await TaskList.open(pyidb.factory("memory:"))
    task = await tl.add("  Write   the report ", "#Work, urgent work", "2025-01-31", now=T0)
    assert task["id"] == 1
    stored = await tl.get(1)
    assert stored == task
    assert stored == {"id": 1, "title": "Write the report", "title_key": "write the report",
                      "tags": ["work", "urgent"], "done": 0, "created": T0, "due": "2025-01-31"}
    assert "due" not in await tl.add("no due date")


async def test_edit_changes_only_the_given_fields_and_can_remove_the_due_date() -> None:
    tl = await seeded()
    edited = await tl.edit(1, title="Write THE report", tags="work")
    assert (edited["title"], edited["title_key"], edited["tags"], edited["due"]) == (
        "Write THE report", "write the report", ["work"], "2025-03-10")
    assert (await tl.get(1)) == edited
    assert "due" not in await tl.edit(1, due=None)
    assert (await tl.get(1))["title"] == "Write THE report"


async def test_complete_and_reopen_move_a_task_between_status_views() -> None:
    tl = await seeded()
    done = await tl.set_done(2, True, now=T0)
    assert (done["done"], done["completed"]) == (1, T0)
    assert titles(await tl.list(View(status="done"))) == ["Buy milk", "archive mail"]
    reopened = await tl.set_done(2, False)
    assert reopened["done"] == 0 and "completed" not in reopened
    assert titles(await tl.list(View(status="open"))) == ["write report", "Buy milk", "call Anna"]


async def test_delete_removes_the_task_from_store_and_indexes() -> None:
    tl = await seeded()
    await tl.delete(3)
    assert await tl.get(3) is None
    assert titles(await tl.list(View(tag="home"))) == ["Buy milk"]
    assert (await tl.counts()).total == 3


async def test_edit_or_complete_a_deleted_task_says_so() -> None:
    tl = await seeded()
    await tl.delete(2)
    with pytest.raises(TaskError, match="task 2 no longer exists"):
        await tl.edit(2, title="x")
    with pytest.raises(TaskError, match="task 2 no longer exists"):
        await tl.set_done(2, True)


@pytest.mark.parametrize(("title", "due", "message"), [
    ("   ", None, "needs a title"),
    ("x" * 201, None, "at most 200 characters"),
    ("ok", "31/01/2025", "is not a date like 2025-01-31"),
])
async def test_invalid_input_raises_a_task_error(title: str, due: str | None, message: str) -> None:
    tl = await TaskList.open(pyidb.factory("memory:"))
    with pytest.raises(TaskError, match=message):
        await tl.add(title, None, due)
    assert (await tl.counts()).total == 0


def test_view_rejects_unknown_sort_and_status() -> None:
    with pytest.raises(TaskError, match="unknown sort"):
        View(sort="priority")
    with pytest.raises(TaskError, match="unknown status"):
        View(status="later")


def test_normalize_tags() -> None:
    assert normalize_tags("Work, #home  work,,") == ["work", "home"]
    assert normalize_tags(["A", " b "]) == ["a", "b"]
    assert normalize_tags(None) == []


# -- views through indexes ---------------------------------------------------------------------
async def test_sorted_views_follow_the_indexes() -> None:
    tl = await seeded()
    assert titles(await tl.list()) == ["write report", "Buy milk", "call Anna", "archive mail"]
    assert titles(await tl.list(View(descending=True))) == [
        "archive mail", "call Anna", "Buy milk", "write report"]
    # by_due skips tasks without a due date: they come last.
    assert titles(await tl.list(View(sort="due"))) == [
        "call Anna", "write report", "archive mail", "Buy milk"]
    # by_title sorts the case-folded title.
    assert titles(await tl.list(View(sort="title"))) == [
        "archive mail", "Buy milk", "call Anna", "write report"]
    assert titles(await tl.list(View(sort="title", descending=True))) == [
        "write report", "call Anna", "Buy milk", "archive mail"]


async def test_filters_by_tag_and_status_combine() -> None:
    tl = await seeded()
    assert titles(await tl.list(View(tag="work"))) == ["write report", "call Anna", "archive mail"]
    assert titles(await tl.list(View(tag="work", status="open"))) == ["write report", "call Anna"]
    assert titles(await tl.list(View(tag="work", status="done", sort="title"))) == ["archive mail"]
    assert await tl.list(View(tag="home", status="done")) == []
    assert await tl.list(View(tag="nope")) == []


async def test_counts_and_tags_come_from_the_indexes() -> None:
    tl = await seeded()
    counts = await tl.counts()
    assert counts == Counts(total=4, open=3, done=1, tags={"home": 2, "urgent": 1, "work": 3})
    assert await tl.tags() == ["home", "urgent", "work"]


async def test_tasks_written_by_hand_show_in_every_view_and_count() -> None:
    """A console add without "created"/"title_key", or with "done": True (not a key, so not in
    by_done), is still listed in every sort and counted as open or done."""
    tl = await seeded()
    await tl.db.add("tasks", {"title": "by hand, done", "done": True})
    await tl.db.add("tasks", {"title": "by hand, no fields"})
    for sort in ("created", "due", "title"):
        listed = titles(await tl.list(View(sort=sort)))
        assert len(listed) == 6 and listed[-2:] == ["by hand, done", "by hand, no fields"], sort
    assert titles(await tl.list(View(status="done"))) == ["archive mail", "by hand, done"]
    assert "by hand, no fields" in titles(await tl.list(View(status="open")))
    counts = await tl.counts()
    assert (counts.total, counts.open, counts.done) == (6, 4, 2)
    assert views.counts_text(counts, 6) == "6 tasks · 4 open · 2 done"


async def test_data_survives_reopening_a_sqlite_database(tmp_path) -> None:
    f = pyidb.factory(f"sqlite:///{tmp_path / 'tasks.db'}")
    tl = await TaskList.open(f)
    await tl.add("persist me", "keep", now=T0)
    tl.close()
    again = await TaskList.open(f)
    assert titles(await again.list(View(tag="keep"))) == ["persist me"]
    again.close()


async def test_a_delete_from_another_connection_closes_ours_instead_of_blocking() -> None:
    f = pyidb.factory("memory:")
    tl = await TaskList.open(f)
    await f.delete_database("pyidb-demo-tasks")  # would wait forever if tl kept it open
    assert tl.closed_elsewhere
    with pytest.raises(pyidb.InvalidStateError):
        await tl.add("too late")


async def test_a_database_without_the_tasks_store_is_refused() -> None:
    f = pyidb.factory("memory:")
    db = await f.open("other", 1, upgrade=lambda db, o, n, tx: db.create_object_store("notes"))
    with pytest.raises(TaskError, match="has no 'tasks' store"):
        TaskList.attach(db)


# -- export / import ---------------------------------------------------------------------------
def mixed_upgrade(db, old, new, tx) -> None:
    s = db.create_object_store("blobs")  # out-of-line keys
    s.create_index("by_kind", "kind")
    p = db.create_object_store("people", key_path=["last", "first"])
    p.create_index("by_email", "email", unique=True)
    p.create_index("by_tags", "tags", multi_entry=True)


async def test_export_import_round_trip_keeps_schema_keys_and_tagged_values() -> None:
    tl = await seeded()
    src = pyidb.factory("memory:")
    other = await src.open("mixed", 3, upgrade=mixed_upgrade)
    async with other.transaction(["blobs", "people"], "readwrite") as tx:
        blobs = tx.object_store("blobs")
        await blobs.put({"kind": "raw", "data": b"\x00\xff", "x": float("nan")}, b"k1")
        await blobs.put({"kind": "big", "n": 2**70, "when": T0, "$t": "user key"}, [1, "a"])
        await tx.object_store("people").put({"last": "Lovelace", "first": "Ada",
                                             "email": "ada@example.org", "tags": ["math"]})
    for db in (tl.db, other):
        doc = await transfer.export_database(db)
        text = transfer.dumps_export(doc)
        assert text.isascii()
        dst = pyidb.factory("memory:")
        copy = await transfer.import_database(dst, transfer.loads_export(text))
        again = await transfer.export_database(copy)
        assert transfer.dumps_export(again) == text
        assert (copy.name, copy.version) == (db.name, db.version)
    store = json.loads(text)["stores"][0]
    assert store["name"] == "blobs" and store["key_path"] is None
    assert store["indexes"] == [{"name": "by_kind", "key_path": "kind", "unique": False,
                                 "multi_entry": False}]
    copied = await copy.get("blobs", [1, "a"])
    assert copied == {"kind": "big", "n": 2**70, "when": T0, "$t": "user key"}
    assert (await copy.get("blobs", b"k1"))["data"] == b"\x00\xff"
    assert await copy.get_from_index("people", "by_email", "ada@example.org") is not None


async def test_imported_task_list_keeps_working_and_numbers_new_tasks_after_the_last() -> None:
    tl = await seeded()
    doc = transfer.loads_export(transfer.dumps_export(await transfer.export_database(tl.db)))
    f = pyidb.factory("memory:")
    await TaskList.open(f)  # an existing database with other content is replaced
    imported = TaskList.attach(await transfer.import_database(f, doc))
    assert await imported.list(View(sort="title")) == await tl.list(View(sort="title"))
    assert (await imported.add("new one"))["id"] == 5
    assert (await imported.counts()).tags == {"home": 2, "urgent": 1, "work": 3}


async def test_a_failing_import_leaves_no_half_imported_records() -> None:
    src = pyidb.factory("memory:")
    db = await src.open("mixed", 1, upgrade=mixed_upgrade)
    doc = await transfer.export_database(db)
    people = doc["stores"][1]
    people["records"] = [[["A", "x"], {"last": "A", "first": "x", "email": "same", "tags": []}],
                         [["B", "y"], {"last": "B", "first": "y", "email": "same", "tags": []}]]
    dst = pyidb.factory("memory:")
    with pytest.raises(pyidb.ConstraintError):
        await transfer.import_database(dst, doc)
    names = [d["name"] for d in await dst.databases()]
    if "mixed" in names:  # left at version 0 by the aborted upgrade: it must hold nothing
        left = await dst.open("mixed")
        assert left.object_store_names == []


@pytest.mark.parametrize(("text", "message"), [
    ("[1, 2]", "top level must be an object"),
    ('{"format": "pyidb-export", "format_version": 9}', "format_version 9"),
    ('{"format": "pyidb-export", "format_version": 1, "database": "d", "version": 0,'
     ' "stores": []}', "version"),
    ('{"format": "pyidb-export", "format_version": 1, "database": "d", "version": 1,'
     ' "stores": [{"name": "s", "key_path": null, "auto_increment": false, "indexes": [],'
     ' "records": [[1]]}]}', "records must be"),
    ("not json", "not a pyidb export file: it is not JSON text"),
    (b"\xff\xfe garbage", "not a pyidb export file: it is not JSON text"),
])
def test_loads_export_rejects_what_it_cannot_import(text: str, message: str) -> None:
    with pytest.raises(transfer.TransferError, match=message) as caught:
        transfer.loads_export(text)
    assert "corrupt" not in str(caught.value)  # that wording is for damaged stored data


# -- console -----------------------------------------------------------------------------------
async def test_console_runs_top_level_await_and_shows_prints_then_the_result() -> None:
    tl = await seeded()
    ns = console.namespace(tl.db)
    result = await console.run('print("hi")\nn = await db.count("tasks")\nn * 10', ns)
    assert result == console.ConsoleResult(True, "hi\n40")
    assert ns["_"] == 40 and ns["n"] == 4
    assert (await console.run("x = 1", ns)) == console.ConsoleResult(True, "")
    assert (await console.run("x + 1;", ns)).output == ""  # a trailing ; hides the result


async def test_console_shows_the_users_traceback_only() -> None:
    tl = await seeded()
    ns = console.namespace(tl.db)
    result = await console.run('await db.add("tasks", {"id": 1, "title": "dup"})', ns)
    assert not result.ok
    assert result.output.startswith("Traceback (most recent call last):\n  File \"<console>\"")
    assert "ConstraintError" in result.output
    assert "console.py" not in result.output
    frames = [line for line in result.output.splitlines() if line.startswith("  File ")]
    assert frames == ['  File "<console>", line 1, in <module>'], result.output  # no pyidb internals
    assert result.output.splitlines()[-1].startswith("pyidb.errors.ConstraintError: ")
    bad = await console.run("def (:", ns)
    assert not bad.ok and "SyntaxError" in bad.output and "<console>" in bad.output


async def test_every_snippet_runs_on_the_task_database() -> None:
    tl = await seeded()
    today = date.today()
    await tl.add("due soon", "work", today + timedelta(days=2))
    ns = console.namespace(tl.db)
    outputs = {}
    for label, code in console.SNIPPETS:
        result = await console.run(code, ns)
        outputs[label] = result.output
        assert result.ok, f"{label}: {result.output}"
    assert outputs["Count by tag"] == "{'home': 2, 'urgent': 1, 'work': 4}"
    assert outputs["KeyRange query"] == f"[('{(today + timedelta(days=2)).isoformat()}', 'due soon')]"
    assert "[x] archive mail" in outputs["Cursor loop"]
    assert outputs["Cursor loop"].splitlines()[0].endswith("due soon")  # newest first
    assert outputs["Transaction"] == "'completed 3 task(s)'"
    assert (await tl.counts()).open == 1  # only "Buy milk" (home) is left open
    assert "'by_tag': 'tags'" in outputs["Schema"]
    assert outputs["Model client"] == "[('try pyidb.model', 3), ('read the README', 0)]"
    assert outputs["An error"].startswith("ConstraintError - ")
    assert outputs["An error"].endswith("\n5")


# -- HTML --------------------------------------------------------------------------------------
def test_render_task_escapes_user_text_and_marks_state() -> None:
    task = {"id": 7, "title": '<img src=x onerror="alert(1)">', "tags": ['a"b'], "done": 0,
            "created": T0, "due": "2025-03-02"}
    html = views.render_task(task, today=date(2025, 3, 5))
    assert "<img" not in html and "&lt;img src=x" in html
    assert 'data-tag="a&quot;b"' in html
    assert 'class="task overdue"' in html and "Overdue Sun 2 Mar" in html
    done = views.render_task({**task, "done": 1}, today=date(2025, 3, 5))
    assert 'class="task done"' in done and " checked" in done and "Due Sun 2 Mar" in done
    form = views.render_task(task, today=date(2025, 3, 5), editing=True)
    assert 'class="edit-form"' in form and 'value="2025-03-02"' in form


def test_records_written_by_hand_still_render() -> None:
    html = views.render_tasks([{"id": 9, "title": "raw"}, {"id": 10, "tags": "x", "due": "soon"}],
                              today=date(2025, 3, 5))
    assert "raw" in html and "(untitled)" in html and 'data-id="10"' in html


def test_counts_and_empty_texts() -> None:
    counts = Counts(total=5, open=3, done=2, tags={"work": 2})
    assert views.counts_text(counts, 5) == "5 tasks · 3 open · 2 done"
    assert views.counts_text(counts, 2) == "5 tasks · 3 open · 2 done — showing 2"
    assert views.counts_text(Counts(total=1, open=1), 1) == "1 task · 1 open · 0 done"
    assert [views.plural(n, "task") for n in (0, 1, 2)] == ["0 tasks", "1 task", "2 tasks"]
    assert views.empty_text(View(status="done", tag="work"), counts) == "No done tasks tagged #work."
    assert views.empty_text(View(), Counts()).startswith("No tasks yet")
    options = views.render_tag_options(counts, "gone")
    assert '<option value="work">#work (2)</option>' in options
    assert '<option value="gone" selected>#gone (0)</option>' in options
