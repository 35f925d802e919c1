import { loadPyodide } from "../pyodide/pyodide.mjs";

const pyodide = await loadPyodide();
await pyodide.loadPackage(["sortedcontainers", "../wheels/pyidb-0.1.0-py3-none-any.whl"]);
postMessage(await pyodide.runPythonAsync(`
import pyidb

def upgrade(db, old_version, new_version, tx):
    db.create_object_store("visits", auto_increment=True)

db = await pyidb.open("worker-example", 1, upgrade=upgrade)
await db.add("visits", "worker started")
visits = await db.count("visits")
db.close()
f"worker {pyidb.default_factory().url}: {visits} visit(s)"
`));
