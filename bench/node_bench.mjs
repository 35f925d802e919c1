// Node side of the benchmarks: the five workloads in fake-indexeddb (plain JS) or in pyidb's engine
// inside Pyodide ("memory:"). One implementation per process, so neither heap disturbs the other.
//
//   node bench/node_bench.mjs --impl fake --n 10000 --runs 5
//   node bench/node_bench.mjs --impl pyodide --n 10000 --runs 5 --wheel dist/deps/sortedcontainers-*.whl --wheel dist/pyidb-*.whl
//
// Prints one line: RESULTS_MARKER + JSON {workload: [ms per run, ...]}.
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { WORKLOADS, deleteDb, rawRunOnce, records } from "./idb_workloads.mjs";

const RESULTS_MARKER = "@@BENCH_RESULTS@@ ";
const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, "..");

function parseArgs(argv) {
  const args = { impl: "fake", n: 10000, runs: 5, wheels: [] };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (value === undefined) throw new Error(`missing value after ${flag}`);
    if (flag === "--impl") args.impl = value;
    else if (flag === "--n") args.n = Number(value);
    else if (flag === "--runs") args.runs = Number(value);
    else if (flag === "--wheel") args.wheels.push(path.resolve(value));
    else throw new Error(`unknown option ${flag}`);
  }
  return args;
}

async function runFake({ n, runs }) {
  const { IDBFactory, IDBKeyRange } = await import("fake-indexeddb");
  const data = records(n);
  const times = Object.fromEntries(WORKLOADS.map((w) => [w, []]));
  for (let i = 0; i < runs; i++) {
    const indexedDB = new IDBFactory();  // a fresh, empty set of databases per run
    const name = `bench-${n}-${i}`;
    const one = await rawRunOnce(indexedDB, IDBKeyRange, name, n, data);
    for (const w of WORKLOADS) times[w].push(one[w]);
    await deleteDb(indexedDB, name);
  }
  return times;
}

async function runPyodide({ n, runs, wheels }) {
  if (wheels.length === 0) throw new Error("give the wheels to install with --wheel PATH");
  const { loadPyodide } = await import(path.join(REPO, "node_modules", "pyodide", "pyodide.mjs"));
  const pyodide = await loadPyodide({
    stdout: (line) => process.stderr.write(`[py] ${line}\n`),
    stderr: (line) => process.stderr.write(`[py:err] ${line}\n`),
  });
  await pyodide.loadPackage(wheels, { messageCallback: () => {}, checkIntegrity: false });
  pyodide.FS.writeFile("/home/pyodide/bench_workloads.py",
    readFileSync(path.join(HERE, "workloads.py"), "utf8"));
  const json = await pyodide.runPythonAsync(`
import json, sys
sys.path.insert(0, "/home/pyodide")
import pyidb, bench_workloads as w
times = await w.run_many(lambda i: pyidb.factory("memory:"), ${n}, ${runs})
json.dumps({k: [s * 1000 for s in v] for k, v in times.items()})
`);
  return JSON.parse(json);
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  let times;
  if (args.impl === "fake") times = await runFake(args);
  else if (args.impl === "pyodide") times = await runPyodide(args);
  else throw new Error(`--impl must be fake or pyodide, not ${args.impl}`);
  process.stdout.write(RESULTS_MARKER + JSON.stringify(times) + "\n");
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`node_bench failed: ${err && err.stack ? err.stack : err}\n`);
    process.exit(2);
  },
);
