// Checks pyidb's fallback inside Pyodide under Node, where no IndexedDB exists: the default factory
// is the pure-Python engine and says so once (FallbackWarning), and factory("browser") fails clearly.
//
//   node tests/runners/node_fallback.mjs WHEEL...   -> prints one JSON line with what it saw
import path from "node:path";
import { fileURLToPath } from "node:url";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const { loadPyodide } = await import(path.join(REPO, "node_modules", "pyodide", "pyodide.mjs"));
const pyodide = await loadPyodide({ stdout: () => {}, stderr: () => {} });
await pyodide.loadPackage(process.argv.slice(2).map((w) => path.resolve(w)),
  { messageCallback: () => {}, checkIntegrity: false });
const out = await pyodide.runPythonAsync(`
import json, warnings
import pyidb

with warnings.catch_warnings(record=True) as seen:
    warnings.simplefilter("always")
    first = pyidb.default_factory()
    second = pyidb.default_factory()
db = await pyidb.open("fallback-check", 1,
                      upgrade=lambda db, o, n, tx: db.create_object_store("s"))
await db.put("s", {"ok": True}, 1)
stored = await db.get("s", 1)
try:
    pyidb.factory("browser")
    browser_error = None
except pyidb.Error as exc:
    browser_error = {"name": exc.name, "message": str(exc)}
json.dumps({
    "warnings": [(w.category.__name__, str(w.message)) for w in seen],
    "same_factory": first is second,
    "url": first.url,
    "stored": stored,
    "browser_error": browser_error,
})
`);
console.log(out);
