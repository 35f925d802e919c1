"""The pyidb demo app: a task list on IndexedDB, written against the public pyidb API only.

* :mod:`.tasks` — the task list (schema, add/edit/complete/delete, filtered and sorted views);
* :mod:`.transfer` — export/import of a whole database as JSON;
* :mod:`.console` — run user code with top-level ``await`` against the open database;
* :mod:`.ui` — the DOM side (Pyodide in a page only).

Everything but :mod:`.ui` runs on CPython too: ``TaskList.open(pyidb.factory("memory:"))``.
"""
