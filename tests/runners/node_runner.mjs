// Runs the conformance suite inside Pyodide under Node, on pyidb's engine ("memory:" factory).
//
//   node tests/runners/node_runner.mjs --wheel dist/deps/sortedcontainers-2.4.0-py2.py3-none-any.whl \
//        --wheel dist/pyidb-0.1.0-py3-none-any.whl --suite tests [--select ids.json] [--timeout 60]
//
// It loads Pyodide from the repo's node_modules, installs the wheels offline (loadPackage by
// absolute path), copies <suite>/{conformance,model_conformance}/*.py into the Pyodide file system, runs
// tests/runners/pyodide_runner.py there and prints one line: RESULTS_MARKER + JSON results.
// Python's own output goes to stderr so that stdout stays machine-readable.
import { existsSync, readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const RESULTS_MARKER = "@@PYIDB_RESULTS@@ ";
const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, "..", "..");
const SUITE_IN_PYODIDE = "/home/pyodide/suite";
// The suite packages pyodide_runner.py runs (its PACKAGES).
const SUITE_PACKAGES = ["conformance", "model_conformance"];

function parseArgs(argv) {
  const args = { wheels: [], suite: path.join(REPO, "tests"), select: null, timeout: 60, url: "memory:" };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[++i];
    if (value === undefined) throw new Error(`missing value after ${flag}`);
    if (flag === "--wheel") args.wheels.push(path.resolve(value));
    else if (flag === "--suite") args.suite = path.resolve(value);
    else if (flag === "--select") args.select = JSON.parse(readFileSync(value, "utf8"));
    else if (flag === "--expected") args.expected = JSON.parse(readFileSync(value, "utf8"));
    else if (flag === "--timeout") args.timeout = Number(value);
    else if (flag === "--url") args.url = value;
    else throw new Error(`unknown option ${flag}`);
  }
  if (args.wheels.length === 0) throw new Error("give the wheels to install with --wheel PATH");
  return args;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const t0 = performance.now();
  const { loadPyodide } = await import(path.join(REPO, "node_modules", "pyodide", "pyodide.mjs"));
  const pyodide = await loadPyodide({
    stdout: (line) => process.stderr.write(`[py] ${line}\n`),
    stderr: (line) => process.stderr.write(`[py:err] ${line}\n`),
  });
  const tLoaded = performance.now();
  // Wheels in dependency order; loadPackage of a path installs it like pip, without the network.
  await pyodide.loadPackage(args.wheels, { messageCallback: () => {}, checkIntegrity: false });

  for (const pkg of SUITE_PACKAGES) {
    const folder = path.join(args.suite, pkg);
    if (!existsSync(folder)) continue;
    pyodide.FS.mkdirTree(`${SUITE_IN_PYODIDE}/${pkg}`);
    for (const name of readdirSync(folder)) {
      if (!name.endsWith(".py")) continue;
      pyodide.FS.writeFile(`${SUITE_IN_PYODIDE}/${pkg}/${name}`,
        readFileSync(path.join(folder, name), "utf8"));
    }
  }
  pyodide.FS.writeFile("/home/pyodide/pyodide_runner.py",
    readFileSync(path.join(HERE, "pyodide_runner.py"), "utf8"));

  const runner = pyodide.runPython(`
import sys
sys.path.insert(0, "/home/pyodide")
import pyodide_runner
pyodide_runner
`);
  // Lists cross as JSON text: a JS array would arrive as a proxy, not a Python list.
  const json = await runner.run_suite.callKwargs(SUITE_IN_PYODIDE, args.url, {
    backend_kind: "engine",
    timeout: args.timeout,
    select_json: JSON.stringify(args.select),
    expected_json: JSON.stringify(args.expected ?? null),
  });
  runner.destroy();
  const tDone = performance.now();
  process.stderr.write(`pyodide ${pyodide.version}: load ${Math.round(tLoaded - t0)} ms, ` +
    `install+run ${Math.round(tDone - tLoaded)} ms\n`);
  process.stdout.write(RESULTS_MARKER + json + "\n");
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`node_runner failed: ${err && err.stack ? err.stack : err}\n`);
    process.exit(2);
  },
);
