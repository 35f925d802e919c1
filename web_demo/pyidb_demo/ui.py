"""The page: binds the DOM of index.html to :mod:`.tasks`, :mod:`.transfer` and :mod:`.console`.

Runs only in Pyodide (it imports ``js``); ``loader.js`` calls ``await pyidb_demo.ui.main()``.
Event handlers read what they need from the event at once (Pyodide destroys the event proxy when
the handler returns), then run the async work as a task, one action at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from datetime import date
from typing import Any

import js  # type: ignore[import-not-found]
from pyodide.ffi import create_proxy, to_js  # type: ignore[import-not-found]

import pyidb
import pyidb.browser

from . import console, transfer, views
from .tasks import DB_NAME, DB_VERSION, STORE, TaskError, TaskList, View

__all__ = ["App", "main"]

document = js.document


def el(element_id: str) -> Any:
    return document.getElementById(element_id)


def data(element: Any, name: str) -> str | None:
    """``element``'s ``data-<name>`` attribute, or None when it has none.

    Not ``element.dataset.<name>``: for a missing attribute that is JS ``undefined``, which
    Pyodide turns into ``AttributeError`` (a click on a plain button or a form field).
    """
    attribute = f"data-{name}"
    if element is None or not hasattr(element, "hasAttribute") or not element.hasAttribute(attribute):
        return None  # (a missing attribute reads as JS null, which is not None in Pyodide)
    return str(element.getAttribute(attribute))


class App:
    """The page's state (current view, task being edited, pending import) and its handlers."""

    def __init__(self, factory: pyidb.Factory, task_list: TaskList, backend: str) -> None:
        self.factory = factory
        self.tasks = task_list
        self.backend = backend
        self.view = View()
        self.editing: Any = None
        self.pending_import: tuple[dict[str, Any], str] | None = None
        self.ns = console.namespace(task_list.db)
        self.lock = asyncio.Lock()  # one action at a time: each ends with a consistent render
        self._proxies: list[Any] = []  # handlers must outlive main(): keep their proxies
        self._running: set[asyncio.Task[None]] = set()
        self.channel: Any = None  # tells the other tabs on this database to redraw

    def changed(self) -> None:
        """Say to the app's other tabs that the tasks changed (they redraw from IndexedDB)."""
        if self.channel is not None:
            self.channel.postMessage("changed")

    def on_broadcast(self, event: Any) -> None:
        self.spawn(self.refresh())

    # -- plumbing ------------------------------------------------------------------------------
    def on(self, target: Any, event: str, handler: Callable[[Any], None]) -> None:
        proxy = create_proxy(handler)
        self._proxies.append(proxy)
        target.addEventListener(event, proxy)

    def spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        """Run ``work`` under the lock; a failure shows as a message, never silently."""

        async def guarded() -> None:
            async with self.lock:
                try:
                    await work
                except (TaskError, transfer.TransferError) as e:
                    self.toast(str(e), error=True)
                except pyidb.Error as e:
                    if self.tasks.closed_elsewhere:
                        _warn("Another tab replaced or upgraded this database, so this page "
                              "closed its connection. Reload the page to continue.")
                        return
                    self.toast(f"{e.name}: {e}", error=True)
                    with contextlib.suppress(pyidb.Error):
                        await self.refresh()  # show what the database holds after the failure
                except Exception as e:  # a bug: say so rather than leave the page stuck
                    self.toast(f"Unexpected error: {type(e).__name__}: {e}", error=True)
                    js.console.error(f"{type(e).__name__}: {e}")

        task = asyncio.ensure_future(guarded())
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    def toast(self, text: str, *, error: bool = False) -> None:
        box = el("toast")
        box.textContent = text
        box.className = "toast error" if error else "toast"
        box.hidden = False
        timer = getattr(self, "_toast_timer", None)
        if timer is not None:
            js.clearTimeout(timer)
        hide = create_proxy(lambda: setattr(box, "hidden", True))
        self._proxies.append(hide)
        self._toast_timer = js.setTimeout(hide, 6000 if error else 3000)

    # -- rendering -----------------------------------------------------------------------------
    async def refresh(self) -> None:
        """Re-read the view and the counts from the database and redraw."""
        items = await self.tasks.list(self.view)
        counts = await self.tasks.counts()
        el("task-list").innerHTML = views.render_tasks(items, today=date.today(),
                                                       editing=self.editing)
        el("tag-filter").innerHTML = views.render_tag_options(counts, self.view.tag)
        el("counts").textContent = views.counts_text(counts, len(items))
        empty = el("empty")
        empty.hidden = bool(items)
        empty.textContent = "" if items else views.empty_text(self.view, counts)
        for button in document.querySelectorAll(".segmented button"):
            pressed = data(button, "status") == self.view.status
            button.setAttribute("aria-pressed", "true" if pressed else "false")
        if self.editing is not None:
            field = document.querySelector(".edit-form .edit-title")
            if field is not None:
                field.focus()

    def set_view(self, **changes: Any) -> None:
        fields = {"sort": self.view.sort, "descending": self.view.descending,
                  "tag": self.view.tag, "status": self.view.status, **changes}
        self.view = View(**fields)
        self.spawn(self.refresh())

    # -- task list -----------------------------------------------------------------------------
    def on_add(self, event: Any) -> None:
        event.preventDefault()
        title, tags, due = el("new-title").value, el("new-tags").value, el("new-due").value
        self.spawn(self.add(title, tags, due))

    async def add(self, title: str, tags: str, due: str) -> None:
        task = await self.tasks.add(title, tags, due or None)
        for field in ("new-title", "new-tags", "new-due"):
            el(field).value = ""
        el("new-title").focus()
        self.changed()
        await self.refresh()
        self.toast(f"Added \u201c{task['title']}\u201d")

    def on_list_click(self, event: Any) -> None:
        target = event.target
        action = data(target, "action")
        if not action or action == "toggle":
            return
        item = target.closest("li.task")
        task_id = int(data(item, "id") or 0)
        if action == "delete":
            self.spawn(self.delete(task_id))
        elif action == "edit":
            self.editing = task_id
            self.spawn(self.refresh())
        elif action == "cancel":
            self.editing = None
            self.spawn(self.refresh())
        elif action == "tag":
            self.set_view(tag=data(target, "tag"))

    async def delete(self, task_id: int) -> None:
        task = await self.tasks.get(task_id)
        await self.tasks.delete(task_id)
        self.changed()
        await self.refresh()
        if task is not None:
            self.toast(f"Deleted \u201c{task['title']}\u201d")

    def on_list_change(self, event: Any) -> None:
        target = event.target
        if data(target, "action") == "toggle":
            task_id = int(data(target.closest("li.task"), "id") or 0)
            self.spawn(self.toggle(task_id, bool(target.checked)))

    async def toggle(self, task_id: int, done: bool) -> None:
        await self.tasks.set_done(task_id, done)
        self.changed()
        await self.refresh()

    def on_edit_submit(self, event: Any) -> None:
        form = event.target
        if not form.classList.contains("edit-form"):
            return
        event.preventDefault()
        task_id = int(data(form, "id") or 0)
        title = form.querySelector(".edit-title").value
        tags = form.querySelector(".edit-tags").value
        due = form.querySelector(".edit-due").value
        self.spawn(self.save_edit(task_id, title, tags, due))

    async def save_edit(self, task_id: int, title: str, tags: str, due: str) -> None:
        await self.tasks.edit(task_id, title=title, tags=tags, due=due or None)
        self.changed()
        self.editing = None
        await self.refresh()
        self.toast("Saved")

    def on_list_keydown(self, event: Any) -> None:
        if event.key == "Escape" and self.editing is not None:
            self.editing = None
            self.spawn(self.refresh())

    def on_status(self, event: Any) -> None:
        status = data(event.target, "status")
        if status:
            self.set_view(status=status)

    def on_tag_filter(self, event: Any) -> None:
        self.set_view(tag=event.target.value or None)

    def on_sort(self, event: Any) -> None:
        sort, order = str(event.target.value).split(":")
        self.set_view(sort=sort, descending=order == "desc")

    # -- export / import -----------------------------------------------------------------------
    def on_export(self, event: Any) -> None:
        self.spawn(self.export())

    async def export(self) -> None:
        text = transfer.dumps_export(await transfer.export_database(self.tasks.db))
        blob = js.Blob.new(to_js([text]), to_js({"type": "application/json"},
                                                dict_converter=js.Object.fromEntries))
        url = js.URL.createObjectURL(blob)
        link = document.createElement("a")
        link.href = url
        link.download = f"{DB_NAME}-{date.today().isoformat()}.json"
        document.body.appendChild(link)
        link.click()
        link.remove()
        js.setTimeout(create_proxy(lambda: js.URL.revokeObjectURL(url)), 1000)
        self.toast(f"Exported to {link.download}")

    def on_import_file(self, event: Any) -> None:
        files = event.target.files
        file = files.item(0) if files.length else None
        event.target.value = ""  # choosing the same file again must fire change again
        if file is not None:
            self.spawn(self.read_import(file))

    async def read_import(self, file: Any) -> None:
        doc = transfer.loads_export(await file.text())
        stores = {s["name"]: s for s in doc["stores"]}
        if STORE not in stores or stores[STORE]["key_path"] != "id":
            raise transfer.TransferError(
                f"{file.name} is a pyidb export, but not of this task list (no {STORE!r} store)")
        current = await self.tasks.db.count(STORE)
        incoming = len(stores[STORE]["records"])
        self.pending_import = (doc, str(file.name))
        el("import-question").textContent = (
            f"Replace your {views.plural(current, 'task')} with the "
            f"{views.plural(incoming, 'task')} in {file.name}?")
        el("import-confirm").hidden = False
        el("import-replace").focus()

    def on_import_answer(self, replace: bool) -> None:
        pending, self.pending_import = self.pending_import, None
        el("import-confirm").hidden = True
        if replace and pending is not None:
            self.spawn(self.replace_database(*pending))

    async def replace_database(self, doc: dict[str, Any], file_name: str) -> None:
        """Delete the database and recreate it from ``doc``; on failure put the old data back."""
        backup = await transfer.export_database(self.tasks.db)
        self.tasks.close()
        try:
            db = await transfer.import_database(self.factory, doc, DB_NAME, version=DB_VERSION)
        except pyidb.Error as e:
            db = await transfer.import_database(self.factory, backup, DB_NAME)
            self.attach(TaskList.attach(db))
            raise TaskError(f"Import failed, nothing changed: {e.name}: {e}") from None
        self.attach(TaskList.attach(db))
        self.changed()
        self.editing = None
        self.view = View()
        await self.refresh()
        el("sort").value = "created:asc"
        self.toast(f"Imported {views.plural(await db.count(STORE), 'task')} from {file_name}")

    def attach(self, task_list: TaskList) -> None:
        self.tasks = task_list
        self.ns["db"] = task_list.db  # the console works on the new connection too

    # -- console -------------------------------------------------------------------------------
    def on_run(self, event: Any) -> None:
        self.spawn(self.run_console(str(el("code").value)))

    def on_code_keydown(self, event: Any) -> None:
        if event.key == "Enter" and (event.ctrlKey or event.metaKey):
            event.preventDefault()
            self.spawn(self.run_console(str(el("code").value)))

    async def run_console(self, code: str) -> None:
        output, run = el("output"), el("run")
        run.disabled = True
        output.className = "output running"
        output.textContent = "Running…"
        try:
            result = await console.run(code, self.ns)
        finally:
            run.disabled = False
        output.className = "output ok" if result.ok else "output error"
        output.textContent = result.output or "(no output)"
        self.changed()
        await self.refresh()  # the code may have changed the tasks

    def on_snippet(self, event: Any) -> None:
        index = data(event.target, "snippet")
        if index:
            code = el("code")
            code.value = console.SNIPPETS[int(index)][1]
            code.rows = max(9, code.value.count("\n") + 1)  # the whole snippet in view
            code.scrollTop = 0
            code.focus()

    # -- start ---------------------------------------------------------------------------------
    def bind(self) -> None:
        el("snippets").innerHTML = "".join(
            f'<button type="button" class="btn chip-btn" data-snippet="{i}">{label}</button>'
            for i, (label, _code) in enumerate(console.SNIPPETS))
        listeners: list[tuple[str, str, Callable[[Any], None]]] = [
            ("add-form", "submit", self.on_add),
            ("task-list", "click", self.on_list_click),
            ("task-list", "change", self.on_list_change),
            ("task-list", "submit", self.on_edit_submit),
            ("task-list", "keydown", self.on_list_keydown),
            ("tag-filter", "change", self.on_tag_filter),
            ("sort", "change", self.on_sort),
            ("export", "click", self.on_export),
            ("import-file", "change", self.on_import_file),
            ("import-replace", "click", lambda e: self.on_import_answer(True)),
            ("import-cancel", "click", lambda e: self.on_import_answer(False)),
            ("run", "click", self.on_run),
            ("clear-output", "click", lambda e: setattr(el("output"), "textContent", "")),
            ("code", "keydown", self.on_code_keydown),
            ("snippets", "click", self.on_snippet),
        ]
        for element_id, event, handler in listeners:
            self.on(el(element_id), event, handler)
        self.on(document.querySelector(".segmented"), "click", self.on_status)
        if self.backend == "IndexedDB" and hasattr(js, "BroadcastChannel"):
            self.channel = js.BroadcastChannel.new(DB_NAME)
            self.on(self.channel, "message", self.on_broadcast)
        el("export").disabled = False
        el("import-file").disabled = False
        el("import-label").removeAttribute("aria-disabled")
        badge = el("backend")
        badge.textContent = self.backend
        badge.className = "badge ok" if self.backend == "IndexedDB" else "badge warn"
        badge.hidden = False


def _warn(text: str) -> None:
    box = el("idb-warning")
    box.textContent = text
    box.hidden = False


async def open_task_list() -> tuple[pyidb.Factory, TaskList, str]:
    """The browser's IndexedDB when usable; else say why and keep the tasks in memory."""
    if pyidb.browser.is_available():
        factory = pyidb.factory("browser")
        try:
            return factory, await TaskList.open(factory), "IndexedDB"
        except (pyidb.Error, TaskError) as e:
            reason = f"opening the database failed ({getattr(e, 'name', type(e).__name__)}: {e})"
    else:
        reason = ("this page has no usable IndexedDB (private browsing, storage disabled, or a "
                  "sandboxed frame)")
    _warn(f"IndexedDB is unavailable: {reason}. The demo runs on pyidb's in-memory engine "
          "instead, so your tasks will be lost when you reload.")
    factory = pyidb.factory("memory:")
    return factory, await TaskList.open(factory), "memory only"


_app: App | None = None


async def main() -> dict[str, str]:
    """Open the database, wire up the page, draw the list; returns info for the loader."""
    global _app
    factory, task_list, backend = await open_task_list()
    _app = App(factory, task_list, backend)
    _app.bind()
    await _app.refresh()
    return {"backend": backend, "pyidb": pyidb.__version__}
