"""The served demo (web_demo/) in Chromium on the browser's real IndexedDB, driven like a user.

Each test gets a fresh browser context (an empty IndexedDB); pages are logged to
test-artifacts/browser/. Screenshots go to test-artifacts/demo-*.png; with
PYIDB_UPDATE_DOCS=1 the app screenshot also replaces docs/demo.png (the README's picture), so a
normal test run leaves the tracked file alone.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from runners.fixtures import ARTIFACTS, REPO, open_logged_context

DEMO_PAGE = "web_demo/index.html"
BOOT_TIMEOUT_MS = 120_000
UI_TIMEOUT_MS = 15_000


def open_demo(context: Any, site_server: Any) -> Any:
    """A page with the demo booted; fails with the boot error when it does not start."""
    page = context.new_page()
    page.set_viewport_size({"width": 1280, "height": 720})
    page.set_default_timeout(UI_TIMEOUT_MS)
    page.goto(site_server.url(DEMO_PAGE))
    return wait_ready(page)


def wait_ready(page: Any) -> Any:
    page.wait_for_function("window.__DEMO_READY__ || window.__DEMO_ERROR__", timeout=BOOT_TIMEOUT_MS)
    error = page.evaluate("window.__DEMO_ERROR__ || null")
    if error:
        pytest.fail(f"the demo did not start: {error}", pytrace=False)
    return page


def add_task(page: Any, title: str, tags: str = "", due: str = "") -> None:
    page.fill("#new-title", title)
    page.fill("#new-tags", tags)
    page.fill("#new-due", due)
    page.click("#add-form button[type=submit]")
    expect(task_row(page, title)).to_be_visible()


def task_row(page: Any, title: str) -> Any:
    return page.locator("li.task", has=page.locator(".task-title", has_text=title))


def titles(page: Any) -> list[str]:
    return page.locator("#task-list .task-title").all_inner_texts()


def seed(page: Any) -> None:
    add_task(page, "Write the quarterly report", "work, urgent", "2031-03-14")
    add_task(page, "Buy oat milk", "home")
    add_task(page, "Book train to Lyon", "travel, home", "2031-02-01")
    add_task(page, "Review pull request #42", "work", "2031-01-20")
    task_row(page, "Buy oat milk").locator(".task-check").check()
    expect(page.locator("#counts")).to_have_text("4 tasks · 3 open · 1 done")


def test_boots_on_the_real_indexeddb_offline(browser_context: Any, site_server: Any) -> None:
    requests: list[str] = []
    browser_context.on("request", lambda r: requests.append(r.url))
    page = open_demo(browser_context, site_server)
    assert page.evaluate("window.__DEMO_READY__.backend") == "IndexedDB"
    expect(page.locator("#backend")).to_have_text("IndexedDB")
    expect(page.locator("#idb-warning")).to_be_hidden()
    expect(page.locator("[data-step].done")).to_have_count(3)
    expect(page.locator("#empty")).to_contain_text("No tasks yet")
    outside = [u for u in requests if not u.startswith(site_server.base_url) and not u.startswith("data:")]
    assert outside == [], f"the demo fetched from outside the site: {outside}"


def test_add_edit_complete_delete_then_reload(browser_context: Any, site_server: Any) -> None:
    page = open_demo(browser_context, site_server)
    seed(page)
    assert titles(page) == ["Write the quarterly report", "Buy oat milk", "Book train to Lyon",
                            "Review pull request #42"]

    # edit: title, tags and due date through the inline form
    task_row(page, "Book train to Lyon").locator("[data-action=edit]").click()
    form = page.locator("form.edit-form")
    form.locator(".edit-title").fill("Book night train to Lyon")
    form.locator(".edit-tags").fill("travel")
    form.locator(".edit-due").fill("2031-01-05")
    form.locator("button[type=submit]").click()
    expect(form).to_have_count(0)
    row = task_row(page, "Book night train to Lyon")
    expect(row.locator(".chip")).to_have_text(["#travel"])
    expect(row.locator(".due")).to_contain_text("5 Jan 2031")

    # complete, then filter by status (the by_done index)
    task_row(page, "Review pull request #42").locator(".task-check").check()
    expect(page.locator("#counts")).to_have_text("4 tasks · 2 open · 2 done")
    page.click(".segmented [data-status=done]")
    expect(page.locator("#task-list .task-title")).to_have_text(
        ["Buy oat milk", "Review pull request #42"])
    page.click(".segmented [data-status=all]")

    # filter by a tag chip (the multiEntry by_tag index), then sort by due date (by_due)
    task_row(page, "Write the quarterly report").locator(".chip", has_text="#work").click()
    expect(page.locator("#task-list .task-title")).to_have_text(
        ["Write the quarterly report", "Review pull request #42"])
    expect(page.locator("#tag-filter")).to_have_value("work")
    page.select_option("#tag-filter", "")
    page.select_option("#sort", "due:asc")
    expect(page.locator("#task-list .task-title")).to_have_text(
        ["Book night train to Lyon", "Review pull request #42", "Write the quarterly report",
         "Buy oat milk"])

    # delete
    task_row(page, "Buy oat milk").locator("[data-action=delete]").click()
    expect(task_row(page, "Buy oat milk")).to_have_count(0)
    expect(page.locator("#counts")).to_have_text("3 tasks · 2 open · 1 done")

    # reload: everything is read back from IndexedDB
    page.reload()
    wait_ready(page)
    expect(page.locator("#counts")).to_have_text("3 tasks · 2 open · 1 done")
    assert titles(page) == ["Write the quarterly report", "Book night train to Lyon",
                            "Review pull request #42"]
    expect(task_row(page, "Review pull request #42").locator(".task-check")).to_be_checked()
    expect(task_row(page, "Book night train to Lyon").locator(".chip")).to_have_text(["#travel"])
    expect(page.locator("#tag-filter option")).to_have_text(
        ["All tags", "#travel (1)", "#urgent (1)", "#work (2)"])


def test_console_snippets_run_against_the_same_database(browser_context: Any,
                                                        site_server: Any) -> None:
    page = open_demo(browser_context, site_server)
    seed(page)
    add_task(page, "Renew passport", "admin", "2025-06-30")  # in the past: shows as overdue
    page.click("#snippets button:has-text('Count by tag')")
    page.click("#run")
    expect(page.locator("#output.ok")).to_have_text(
        "{'admin': 1, 'home': 2, 'travel': 1, 'urgent': 1, 'work': 2}")
    expect(task_row(page, "Renew passport")).to_have_class("task overdue")
    screenshot(page, "demo-app.png", docs=True)

    # a write from the console shows in the list at once (the page redraws after each run)
    page.click("#snippets button:has-text('Transaction')")
    page.click("#run")
    expect(page.locator("#output.ok")).to_have_text("'completed 2 task(s)'")
    expect(page.locator("#counts")).to_have_text("5 tasks · 2 open · 3 done")

    # an IndexedDB error comes back as a Python traceback from the user's code
    page.fill("#code", 'await db.add("tasks", {"id": 1, "title": "again"})')
    page.press("#code", "Control+Enter")
    expect(page.locator("#output.error")).to_contain_text("ConstraintError")
    expect(page.locator("#output.error")).to_contain_text('File "<console>"')

    page.click("#snippets button:has-text('Cursor loop')")
    page.click("#run")
    expect(page.locator("#output.ok")).to_contain_text("[x] Review pull request #42")
    screenshot(page, "demo-console.png")

    # the model client runs in the page too, on the browser's IndexedDB
    page.click("#snippets button:has-text('Model client')")
    page.click("#run")
    expect(page.locator("#output.ok")).to_have_text(
        "[('try pyidb.model', 3), ('read the README', 0)]")


def test_a_session_of_ordinary_use_logs_no_page_errors(browser_context: Any,
                                                       site_server: Any) -> None:
    """Clicks anywhere a user would (titles, dates, fields, gaps, Save, Enter) raise nothing."""
    problems: list[str] = []
    browser_context.on("page", lambda p: (
        p.on("pageerror", lambda e: problems.append(f"pageerror: {e}")),
        p.on("console", lambda m: m.type == "error" and problems.append(f"console: {m.text}"))))
    page = open_demo(browser_context, site_server)
    seed(page)
    row = task_row(page, "Write the quarterly report")
    row.locator(".task-title").click()
    row.locator(".due").click()
    row.locator(".created").click()
    page.locator(".segmented").click(position={"x": 1, "y": 1})
    page.locator("#snippets").click(position={"x": 1, "y": 1})
    page.locator("#counts").click()
    row.locator("[data-action=edit]").click()
    form = page.locator("form.edit-form")
    form.locator(".edit-title").click()
    form.locator(".edit-tags").click()
    form.locator(".edit-due").click()
    form.locator(".edit-title").fill("Write the yearly report")
    form.locator(".edit-title").press("Enter")  # submits the form
    expect(form).to_have_count(0)
    task_row(page, "Write the yearly report").locator("[data-action=edit]").click()
    form.locator(".edit-tags").fill("work")
    form.locator("button[type=submit]").click()  # a click on Save, then its submit
    expect(form).to_have_count(0)
    expect(task_row(page, "Write the yearly report").locator(".chip")).to_have_text(["#work"])
    page.click(".segmented [data-status=open]")
    page.click(".segmented [data-status=all]")
    assert problems == [], problems


def test_tasks_added_by_hand_in_the_console_show_and_count(browser_context: Any,
                                                           site_server: Any) -> None:
    page = open_demo(browser_context, site_server)
    add_task(page, "From the form")
    page.fill("#code", 'await db.add("tasks", {"title": "From the console", "done": True})')
    page.click("#run")
    expect(page.locator("#output.ok")).to_have_text("2")
    expect(page.locator("#counts")).to_have_text("2 tasks · 1 open · 1 done")
    assert titles(page) == ["From the form", "From the console"]
    expect(task_row(page, "From the console").locator(".task-check")).to_be_checked()


def test_a_second_tab_redraws_when_the_first_changes_data(browser_context: Any,
                                                          site_server: Any) -> None:
    first = open_demo(browser_context, site_server)
    second = open_demo(browser_context, site_server)
    add_task(first, "Typed in the first tab", "shared")
    expect(task_row(second, "Typed in the first tab")).to_be_visible()
    task_row(first, "Typed in the first tab").locator(".task-check").check()
    expect(second.locator("#counts")).to_have_text("1 task · 0 open · 1 done")
    task_row(second, "Typed in the first tab").locator("[data-action=delete]").click()
    expect(first.locator("#counts")).to_have_text("0 tasks · 0 open · 0 done")


def export_file(page: Any, path: Path) -> dict[str, Any]:
    with page.expect_download() as download:
        page.click("#export")
    download.value.save_as(path)
    assert download.value.suggested_filename.startswith("pyidb-demo-tasks-")
    return json.loads(path.read_text(encoding="utf-8"))


def test_export_then_import_into_a_fresh_database(browser_context: Any, chromium: Any,
                                                  site_server: Any, tmp_path: Path) -> None:
    page = open_demo(browser_context, site_server)
    seed(page)
    exported = export_file(page, tmp_path / "export.json")
    assert exported["format"] == "pyidb-export" and exported["database"] == "pyidb-demo-tasks"
    store = exported["stores"][0]
    assert (store["name"], store["key_path"], store["auto_increment"]) == ("tasks", "id", True)
    assert {i["name"] for i in store["indexes"]} == {
        "by_created", "by_done", "by_due", "by_tag", "by_title"}
    assert len(store["records"]) == 4
    first = store["records"][0][1]
    assert first["created"]["$t"] == "date"  # a Date in IndexedDB, tagged in the file
    before = titles(page)

    fresh = open_logged_context(chromium, ARTIFACTS / "browser" / "demo-import-fresh.log")
    try:
        other = open_demo(fresh, site_server)
        add_task(other, "Only in the fresh profile", "scratch")
        other.set_input_files("#import-file", str(tmp_path / "export.json"))
        expect(other.locator("#import-question")).to_have_text(
            "Replace your 1 task with the 4 tasks in export.json?")
        other.click("#import-replace")
        expect(other.locator("#counts")).to_have_text("4 tasks · 3 open · 1 done")
        assert titles(other) == before
        reexported = export_file(other, tmp_path / "reexport.json")
        assert reexported == exported

        # the import is IndexedDB data: it is still there after a reload, and ids go on
        other.reload()
        wait_ready(other)
        add_task(other, "Added after import")
        assert other.evaluate("""() => [...document.querySelectorAll('#task-list li.task')]
            .map(li => Number(li.dataset.id))""") == [1, 2, 3, 4, 5]
    finally:
        fresh.close()


def test_import_with_the_app_open_in_another_tab(browser_context: Any, site_server: Any,
                                                  tmp_path: Path) -> None:
    first = open_demo(browser_context, site_server)
    add_task(first, "From the export", "kept")
    export_file(first, tmp_path / "one.json")
    second = open_demo(browser_context, site_server)
    add_task(second, "Replaced by the import")
    # The delete+upgrade of the import must not wait for the first tab's connection.
    second.set_input_files("#import-file", str(tmp_path / "one.json"))
    second.click("#import-replace")
    expect(second.locator("#counts")).to_have_text("1 task · 1 open · 0 done")
    expect(second.locator("#toast")).to_have_text("Imported 1 task from one.json")
    assert titles(second) == ["From the export"]
    add_task_attempt = first.locator("#new-title")
    add_task_attempt.fill("Typed in the stale tab")
    first.click("#add-form button[type=submit]")
    expect(first.locator("#idb-warning")).to_contain_text("Reload the page to continue")
    first.reload()
    wait_ready(first)
    assert titles(first) == ["From the export"]


def test_a_bad_import_file_is_refused_and_nothing_changes(browser_context: Any, site_server: Any,
                                                          tmp_path: Path) -> None:
    page = open_demo(browser_context, site_server)
    add_task(page, "Keep me")
    bad = tmp_path / "notes.json"
    bad.write_text('{"hello": "world"}', encoding="utf-8")
    page.set_input_files("#import-file", str(bad))
    expect(page.locator("#toast.error")).to_contain_text("not a pyidb export file")
    expect(page.locator("#import-confirm")).to_be_hidden()
    assert titles(page) == ["Keep me"]


def test_without_indexeddb_the_page_says_so_and_keeps_tasks_in_memory(
        browser_context: Any, site_server: Any) -> None:
    # As in a context where storage is disabled: the global is there but unusable.
    browser_context.add_init_script(
        "Object.defineProperty(window, 'indexedDB', {get: () => undefined, configurable: true})")
    page = open_demo(browser_context, site_server)
    assert page.evaluate("window.__DEMO_READY__.backend") == "memory only"
    expect(page.locator("#idb-warning")).to_be_visible()
    expect(page.locator("#idb-warning")).to_contain_text("IndexedDB is unavailable")
    expect(page.locator("#backend")).to_have_text("memory only")
    add_task(page, "Lost on reload")
    screenshot(page, "demo-no-indexeddb.png")


def screenshot(page: Any, name: str, *, docs: bool = False) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator("#toast").evaluate("el => el.hidden = true")  # transient: not in the picture
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)
    assert (ARTIFACTS / name).stat().st_size > 10_000  # a real picture, not a blank page
    if docs and os.environ.get("PYIDB_UPDATE_DOCS") == "1":
        (REPO / "docs").mkdir(exist_ok=True)
        page.screenshot(path=str(REPO / "docs" / "demo.png"), full_page=True)
