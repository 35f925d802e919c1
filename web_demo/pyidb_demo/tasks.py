"""The task list: schema, edits and the filtered, sorted views, on the public pyidb API only.

>>> tasks = await TaskList.open(pyidb.factory("memory:"))
>>> task = await tasks.add("Write the report", tags="work, urgent", due="2025-01-31")
>>> [t["title"] for t in await tasks.list(View(tag="work", sort="due"))]
['Write the report']

A task is a dict in the store ``tasks`` (in-line key ``id``, auto-increment)::

    {"id": 1, "title": "Write the report", "title_key": "write the report",
     "tags": ["work", "urgent"], "done": 0, "created": datetime(..., tzinfo=UTC),
     "due": "2025-01-31", "completed": datetime(...)}

``done`` is 0/1, not a bool, because booleans are not IndexedDB keys and the ``by_done`` index
would skip every record. ``due`` (an ISO date string, which sorts by date) and ``completed`` are
left out when unset: a record whose index key path is missing is simply not in that index.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from types import EllipsisType
from typing import Any

import pyidb

__all__ = [
    "DB_NAME",
    "DB_VERSION",
    "SORTS",
    "STATUSES",
    "STORE",
    "Counts",
    "TaskError",
    "TaskList",
    "View",
    "normalize_tags",
    "upgrade",
]

DB_NAME = "pyidb-demo-tasks"
DB_VERSION = 1
STORE = "tasks"
SORTS = {"created": "by_created", "due": "by_due", "title": "by_title"}
"""View.sort -> the index that gives that order."""
STATUSES = ("all", "open", "done")
MAX_TITLE = 200
_TAG_SPLIT = re.compile(r"[,\s]+")


class TaskError(Exception):
    """A task operation the user asked for cannot be done; the message says why."""


def upgrade(db: pyidb.Database, old_version: int, new_version: int, tx: pyidb.Transaction) -> None:
    """Create the schema: one store and an index per filter and sort order."""
    if old_version < 1:
        store = db.create_object_store(STORE, key_path="id", auto_increment=True)
        store.create_index("by_tag", "tags", multi_entry=True)  # one entry per tag
        store.create_index("by_done", "done")
        store.create_index("by_created", "created")
        store.create_index("by_due", "due")
        store.create_index("by_title", "title_key")


def normalize_tags(tags: str | Iterable[str] | None) -> list[str]:
    """``"Work, #home  work"`` -> ``["work", "home"]``: lower case, no ``#``, no repeats."""
    if tags is None:
        return []
    parts = _TAG_SPLIT.split(tags) if isinstance(tags, str) else list(tags)
    out: list[str] = []
    for part in parts:
        tag = str(part).strip().lstrip("#").strip().lower()
        if tag and tag not in out:
            out.append(tag[:40])
    return out


def _title(title: str) -> str:
    title = " ".join(str(title).split())
    if not title:
        raise TaskError("a task needs a title")
    if len(title) > MAX_TITLE:
        raise TaskError(f"a title is at most {MAX_TITLE} characters (this one has {len(title)})")
    return title


def _due(due: str | date | None) -> str | None:
    """An ISO date string (sorts by date as a key), or None for no due date."""
    if due is None or due == "":
        return None
    if isinstance(due, date):
        return due.isoformat()
    try:
        return date.fromisoformat(str(due).strip()).isoformat()
    except ValueError:
        raise TaskError(f"due date {due!r} is not a date like 2025-01-31") from None


@dataclass(frozen=True)
class View:
    """Which tasks to show and in what order."""

    sort: str = "created"  # a key of SORTS
    descending: bool = False
    tag: str | None = None  # only tasks with this tag
    status: str = "all"  # "all", "open" or "done"

    def __post_init__(self) -> None:
        if self.sort not in SORTS:
            raise TaskError(f"unknown sort {self.sort!r}; use one of {', '.join(SORTS)}")
        if self.status not in STATUSES:
            raise TaskError(f"unknown status {self.status!r}; use one of {', '.join(STATUSES)}")


@dataclass
class Counts:
    """Live counts, each one an IndexedDB count request."""

    total: int = 0
    open: int = 0
    done: int = 0
    tags: dict[str, int] = field(default_factory=dict)  # tag -> tasks with it, in tag order


class TaskList:
    """The task list over one open connection (``self.db``)."""

    def __init__(self, db: pyidb.Database) -> None:
        self.db = db
        self.closed_elsewhere = False  # another connection upgraded or deleted the database

    @classmethod
    async def open(cls, factory: pyidb.Factory, name: str = DB_NAME) -> TaskList:
        """Open (creating or upgrading) the task database on ``factory``."""
        return cls.attach(await factory.open(name, DB_VERSION, upgrade=upgrade))

    @classmethod
    def attach(cls, db: pyidb.Database) -> TaskList:
        """A task list over an open connection (e.g. the one an import returns)."""
        if STORE not in db.object_store_names:
            db.close()
            raise TaskError(f"database {db.name!r} has no {STORE!r} store: it is not a task list")

        task_list = cls(db)

        # Another tab upgrading or deleting the database (an import there) must not be
        # blocked by us: close, and let the page say so on the next action.
        def on_versionchange(conn: pyidb.Database, old: int, new: int | None) -> None:
            task_list.closed_elsewhere = True
            conn.close()

        db.on_versionchange = on_versionchange
        return task_list

    def close(self) -> None:
        self.db.close()

    # -- edits -------------------------------------------------------------------------------
    async def add(self, title: str, tags: str | Iterable[str] | None = None,
                  due: str | date | None = None, *, now: datetime | None = None) -> dict[str, Any]:
        """Add a task; returns it with its new ``id``."""
        title = _title(title)
        task: dict[str, Any] = {
            "title": title,
            "title_key": title.casefold(),
            "tags": normalize_tags(tags),
            "done": 0,
            "created": now or datetime.now(UTC),
        }
        due_text = _due(due)
        if due_text is not None:
            task["due"] = due_text
        async with self.db.transaction(STORE, "readwrite") as tx:
            task["id"] = await tx.object_store(STORE).add(task)
        return task

    async def get(self, task_id: int) -> dict[str, Any] | None:
        return await self.db.get(STORE, task_id)

    async def edit(self, task_id: int, *, title: str | None = None,
                   tags: str | Iterable[str] | None = None,
                   due: str | date | EllipsisType | None = ...) -> dict[str, Any]:
        """Change some fields of a task (``due=None`` removes the due date); returns the task."""
        async with self.db.transaction(STORE, "readwrite") as tx:
            store = tx.object_store(STORE)
            task = await store.get(task_id)
            if task is None:
                raise TaskError(f"task {task_id} no longer exists")
            if title is not None:
                task["title"] = _title(title)
                task["title_key"] = task["title"].casefold()
            if tags is not None:
                task["tags"] = normalize_tags(tags)
            if due is not ...:
                due_text = _due(due)
                if due_text is None:
                    task.pop("due", None)
                else:
                    task["due"] = due_text
            await store.put(task)
        return task

    async def set_done(self, task_id: int, done: bool, *, now: datetime | None = None) -> dict[str, Any]:
        """Mark a task done (or open again); returns the task."""
        async with self.db.transaction(STORE, "readwrite") as tx:
            store = tx.object_store(STORE)
            task = await store.get(task_id)
            if task is None:
                raise TaskError(f"task {task_id} no longer exists")
            task["done"] = 1 if done else 0
            if done:
                task["completed"] = now or datetime.now(UTC)
            else:
                task.pop("completed", None)
            await store.put(task)
        return task

    async def delete(self, task_id: int) -> None:
        await self.db.delete(STORE, task_id)

    # -- views -------------------------------------------------------------------------------
    async def list(self, view: View | None = None) -> list[dict[str, Any]]:
        """The tasks ``view`` selects, in its order, all read in one readonly transaction.

        The order comes from the sort's index; the tag and status filters are the primary keys
        the ``by_tag`` and ``by_done`` indexes give for that tag and status.
        """
        view = view or View()
        tx = self.db.transaction(STORE)
        store = tx.object_store(STORE)
        allowed: set[Any] | None = None
        if view.status != "all":
            open_ids, done_ids = await _status_keys(store)
            allowed = done_ids if view.status == "done" else open_ids
        if view.tag:
            tagged = set(await store.index("by_tag").get_all_keys(view.tag))
            allowed = tagged if allowed is None else allowed & tagged
        if allowed is not None and not allowed:
            return []
        ordered = await store.index(SORTS[view.sort]).get_all()
        if view.descending:
            ordered.reverse()
        if len(ordered) < await store.count():
            # A record without the sort's field is not in its index: no due date, or a task
            # written by hand in the console without "created" or "title_key". Show it last,
            # in key order, rather than not at all.
            listed = {t["id"] for t in ordered}
            ordered += [t for t in await store.get_all() if t["id"] not in listed]
        if allowed is None:
            return ordered
        return [t for t in ordered if t["id"] in allowed]

    async def tags(self) -> list[str]:
        """Every tag in use, in key order: a key cursor over ``by_tag`` that skips repeats."""
        tx = self.db.transaction(STORE)
        index = tx.object_store(STORE).index("by_tag")
        return [c.key async for c in index.open_key_cursor(direction="nextunique")]

    async def counts(self) -> Counts:
        """Total, open, done and per-tag counts, through count() on the store and indexes."""
        tx = self.db.transaction(STORE)
        store = tx.object_store(STORE)
        by_done = store.index("by_done")
        counts = Counts(total=await store.count(), open=await by_done.count(0),
                        done=await by_done.count(1))
        if counts.open + counts.done < counts.total:  # some "done" is not 0/1: judge those apart
            open_ids, done_ids = await _status_keys(store)
            counts.open, counts.done = len(open_ids), len(done_ids)
        by_tag = store.index("by_tag")
        async for cursor in by_tag.open_key_cursor(direction="nextunique"):
            counts.tags[cursor.key] = await by_tag.count(cursor.key)
        return counts


async def _status_keys(store: pyidb.ObjectStore) -> tuple[set[Any], set[Any]]:
    """The keys of the open tasks and of the done ones.

    The ``by_done`` index holds the tasks whose ``done`` is 0 or 1; one written by hand with
    ``"done": True`` (not a key, so not in the index) or with no ``done`` counts by truthiness.
    """
    by_done = store.index("by_done")
    open_ids = set(await by_done.get_all_keys(0))
    done_ids = set(await by_done.get_all_keys(1))
    if len(open_ids) + len(done_ids) < await store.count():
        for task in await store.get_all():
            if task["id"] not in open_ids and task["id"] not in done_ids:
                (done_ids if task.get("done") else open_ids).add(task["id"])
    return open_ids, done_ids
