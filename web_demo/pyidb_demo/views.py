"""HTML for the task list, as escaped strings (no DOM here, so CPython tests can check it).

>>> render_task({"id": 1, "title": "<b>hi</b>", "tags": [], "done": 0,
...              "created": datetime(2025, 1, 2, tzinfo=UTC)}, today=date(2025, 1, 3))
'<li class="task" data-id="1">...&lt;b&gt;hi&lt;/b&gt;...</li>'
"""

from __future__ import annotations

from datetime import date, datetime
from html import escape
from typing import Any

from .tasks import Counts, View

__all__ = ["counts_text", "empty_text", "plural", "render_tag_options", "render_task", "render_tasks"]


def plural(n: int, noun: str) -> str:
    """``plural(1, "task")`` -> ``"1 task"``; ``plural(3, "task")`` -> ``"3 tasks"``."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _day(d: date, today: date) -> str:
    """``Today``, ``Tomorrow``, ``Yesterday``, ``Mon 6 Jan``, or ``6 Jan 2026`` in another year."""
    delta = (d - today).days
    if delta == 0:
        return "Today"
    if delta == 1:
        return "Tomorrow"
    if delta == -1:
        return "Yesterday"
    if d.year == today.year:
        return f"{d:%a} {d.day} {d:%b}"
    return f"{d.day} {d:%b %Y}"


def _attr(text: Any) -> str:
    return escape(str(text), quote=True)


def _shape(task: Any) -> dict[str, Any]:
    """The fields the list shows, tolerating records written by hand in the console."""
    if not isinstance(task, dict):
        task = {"title": repr(task)}
    tags = task.get("tags")
    due = task.get("due")
    try:
        due_date = date.fromisoformat(due) if isinstance(due, str) else None
    except ValueError:
        due_date = None
    created = task.get("created")
    return {"id": task.get("id"), "title": str(task.get("title") or "(untitled)"),
            "tags": [str(t) for t in tags] if isinstance(tags, list) else [],
            "done": bool(task.get("done")), "due": due if due_date else "", "due_date": due_date,
            "created": created if isinstance(created, datetime) else None}


def render_task(record: dict[str, Any], *, today: date, editing: bool = False) -> str:
    """One ``<li>``: checkbox, title, tag chips, dates and actions (or the edit form)."""
    task = _shape(record)
    tid = _attr(task["id"])
    title = escape(task["title"])
    if editing:
        return (
            f'<li class="task editing" data-id="{tid}">'
            f'<form class="edit-form" data-id="{tid}" aria-label="Edit task">'
            f'<input name="title" class="edit-title" value="{_attr(task["title"])}" '
            f'aria-label="Title" required maxlength="200">'
            f'<input name="tags" class="edit-tags" value="{_attr(", ".join(task["tags"]))}" '
            f'aria-label="Tags, separated by commas" placeholder="tags">'
            f'<input name="due" class="edit-due" type="date" value="{_attr(task["due"])}" '
            f'aria-label="Due date">'
            f'<div class="edit-actions"><button type="submit" class="btn primary">Save</button>'
            f'<button type="button" class="btn" data-action="cancel">Cancel</button></div>'
            f"</form></li>"
        )
    classes = ["task"]
    if task["done"]:
        classes.append("done")
    chips = "".join(
        f'<button type="button" class="chip" data-action="tag" data-tag="{_attr(t)}" '
        f'title="Show only #{_attr(t)}">#{escape(t)}</button>'
        for t in task["tags"]
    )
    meta = [chips] if chips else []
    d = task["due_date"]
    if d is not None:
        overdue = d < today and not task["done"]
        if overdue:
            classes.append("overdue")
        label = "Overdue" if overdue else "Due"
        meta.append(f'<span class="due" title="Due {_attr(task["due"])}">'
                    f"{label} {escape(_day(d, today))}</span>")
    created = task["created"]
    if created is not None:
        meta.append(f'<time class="created" datetime="{_attr(created.isoformat())}">'
                    f"Added {escape(_day(created.date(), today))}</time>")
    checked = " checked" if task["done"] else ""
    verb = "Reopen" if task["done"] else "Complete"
    return (
        f'<li class="{" ".join(classes)}" data-id="{tid}">'
        f'<input type="checkbox" class="task-check" data-action="toggle"{checked} '
        f'aria-label="{verb} &quot;{_attr(task["title"])}&quot;">'
        f'<div class="task-body"><span class="task-title">{title}</span>'
        f'<div class="task-meta">{"".join(meta)}</div></div>'
        f'<div class="task-actions">'
        f'<button type="button" class="btn ghost" data-action="edit" '
        f'aria-label="Edit &quot;{_attr(task["title"])}&quot;">Edit</button>'
        f'<button type="button" class="btn ghost danger" data-action="delete" '
        f'aria-label="Delete &quot;{_attr(task["title"])}&quot;">Delete</button>'
        f"</div></li>"
    )


def render_tasks(tasks: list[dict[str, Any]], *, today: date, editing: Any = None) -> str:
    return "".join(render_task(t, today=today, editing=t.get("id") == editing) for t in tasks)


def render_tag_options(counts: Counts, selected: str | None) -> str:
    """``<option>``s for the tag filter: every tag with its count (from the by_tag index)."""
    options = [f'<option value=""{" selected" if not selected else ""}>All tags</option>']
    tags = dict(counts.tags)
    if selected and selected not in tags:
        tags[selected] = 0  # keep the chosen filter visible even when no task has it any more
    for tag, n in tags.items():
        sel = " selected" if tag == selected else ""
        options.append(f'<option value="{_attr(tag)}"{sel}>#{escape(tag)} ({n})</option>')
    return "".join(options)


def counts_text(counts: Counts, shown: int) -> str:
    """``"5 tasks · 3 open · 2 done"`` plus ``" — showing 2"`` when a filter hides some."""
    text = f"{plural(counts.total, 'task')} · {counts.open} open · {counts.done} done"
    if shown != counts.total:
        text += f" — showing {shown}"
    return text


def empty_text(view: View, counts: Counts) -> str:
    """What the empty list says: nothing yet, or nothing matches the filters."""
    if counts.total == 0:
        return "No tasks yet. Add one above — it is stored in this browser's IndexedDB."
    status = f"{view.status} " if view.status != "all" else ""
    tagged = f" tagged #{view.tag}" if view.tag else ""
    return f"No {status}tasks{tagged}."
