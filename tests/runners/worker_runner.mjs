// The runner inside a module Web Worker (where JupyterLite kernels and PyScript workers run
// Python): browser_runner.html?worker=1 starts it and talks to it with messages.
//   <- {ready: info} or {bootError}     once Pyodide and pyidb are loaded
//   -> {id, cmd: "runPython" | "runSuite", arg}   <- {id, value} or {id, error}
import { boot, runPython, runSuite } from "./suite.mjs";

const booting = boot();
booting.then(({ info }) => postMessage({ ready: { ...info, worker: typeof window === "undefined" } }),
             (err) => postMessage({ bootError: String(err && err.stack ? err.stack : err) }));

onmessage = async ({ data: { id, cmd, arg } }) => {
  try {
    const { pyodide } = await booting;
    const value = cmd === "runSuite" ? await runSuite(pyodide, arg) : await runPython(pyodide, arg);
    postMessage({ id, value });
  } catch (err) {
    postMessage({ id, error: String(err && err.stack ? err.stack : err) });
  }
};
