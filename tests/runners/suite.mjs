// What the page runner (browser_runner.html) and the worker runner (worker_runner.mjs) share:
// boot Pyodide with the pyidb wheel from the staged site, run Python, run the conformance suite.
// Paths are relative to this file: the site is two folders up (see build.sh site).
import { loadPyodide } from "../../pyodide/pyodide.mjs";

const SITE = new URL("../../", import.meta.url);
const SUITE_DIR = "/home/pyodide/suite";

export async function fetchText(relative) {
  const response = await fetch(new URL(relative, import.meta.url));
  if (!response.ok) throw new Error(`GET ${relative}: HTTP ${response.status}`);
  return response.text();
}

// -> {pyodide, info: {loadMs, installMs, pyodideVersion}} with pyidb imported.
export async function boot() {
  const t0 = performance.now();
  const pyodide = await loadPyodide({ indexURL: new URL("pyodide/", SITE).href });
  const loadMs = performance.now() - t0;
  const manifest = await (await fetch(new URL("wheels/manifest.json", SITE))).json();
  // sortedcontainers first: loadPackage of a URL installs exactly that wheel, offline.
  const wheels = [manifest.sortedcontainers, manifest.pyidb].map((n) => new URL(`wheels/${n}`, SITE).href);
  await pyodide.loadPackage(wheels, { checkIntegrity: false, messageCallback: (m) => console.log(m) });
  pyodide.runPython("import pyidb");
  const info = { loadMs: Math.round(loadMs), installMs: Math.round(performance.now() - t0 - loadMs),
                 pyodideVersion: pyodide.version };
  return { pyodide, info };
}

function toJs(value) {
  if (value && typeof value.toJs === "function") {
    const out = value.toJs({ dict_converter: Object.fromEntries, create_pyproxies: false });
    value.destroy();
    return out;
  }
  return value;
}

// The last expression's value of `code` (top-level await allowed), converted to JS.
export async function runPython(pyodide, code) {
  return toJs(await pyodide.runPythonAsync(code));
}

// Runs tests/conformance (and the packages in `packages`, {package: [module files]}, e.g. the
// model client's suite) with pyodide_runner.py on the browser backend -> JSON results text.
export async function runSuite(pyodide, { modules, packages = null, select = null, expected = null,
                                          timeout = 60, url = "browser" } = {}) {
  if (!modules) modules = JSON.parse(await fetchText("../conformance/index.json"));
  const suites = { conformance: modules, ...(packages || {}) };
  for (const [pkg, files] of Object.entries(suites)) {
    // Each package needs its support modules too, whatever the list says.
    const extra = pkg === "conformance" ? ["__init__.py", "_support.py"] : ["__init__.py"];
    const names = [...new Set([...extra, ...files])];
    pyodide.FS.mkdirTree(`${SUITE_DIR}/${pkg}`);
    for (const name of names) {
      pyodide.FS.writeFile(`${SUITE_DIR}/${pkg}/${name}`, await fetchText(`../${pkg}/${name}`));
    }
  }
  pyodide.FS.writeFile("/home/pyodide/pyodide_runner.py", await fetchText("./pyodide_runner.py"));
  const runner = pyodide.runPython(
    "import sys\nsys.path.insert(0, '/home/pyodide')\nimport pyodide_runner\npyodide_runner");
  try {
    return await runner.run_suite.callKwargs(SUITE_DIR, url, {
      backend_kind: "browser", timeout,
      select_json: JSON.stringify(select), expected_json: JSON.stringify(expected),
    });
  } finally {
    runner.destroy();
  }
}
