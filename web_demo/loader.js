// Boots the demo: Pyodide from the staged site (../pyodide/), the pyidb wheel (../wheels/, named
// in manifest.json), the app's Python package (./pyidb_demo/), then hands over to
// pyidb_demo.ui.main(). Everything is served by the same origin: no network, no CDN.
// Tests wait for window.__DEMO_READY__ ({backend, ...}) or window.__DEMO_ERROR__.
import { loadPyodide } from "../pyodide/pyodide.mjs";

const SITE = new URL("../", import.meta.url);
const APP_FILES = ["__init__.py", "tasks.py", "transfer.py", "console.py", "views.py", "ui.py"];
const APP_DIR = "/home/pyodide/app";
const STEPS = ["runtime", "packages", "database"];

const bar = document.getElementById("progress-bar");
const progress = bar.parentElement;

function step(name, state, detail = "") {
  const li = document.querySelector(`[data-step="${name}"]`);
  li.className = state;
  li.querySelector(".step-detail").textContent = detail ? ` — ${detail}` : "";
  const done = STEPS.filter((s) => document.querySelector(`[data-step="${s}"]`).className === "done").length;
  const active = state === "active" ? 0.5 : 0;
  bar.style.width = `${((done + active) / STEPS.length) * 100}%`;
  progress.setAttribute("aria-valuenow", String(done));
}

async function timed(name, fn) {
  step(name, "active");
  const t0 = performance.now();
  try {
    const result = await fn();
    step(name, "done", `${((performance.now() - t0) / 1000).toFixed(1)} s`);
    return result;
  } catch (err) {
    step(name, "failed");
    throw err;
  }
}

async function fetchText(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`GET ${url}: HTTP ${response.status}`);
  return response.text();
}

async function boot() {
  const pyodide = await timed("runtime", () =>
    loadPyodide({ indexURL: new URL("pyodide/", SITE).href }));
  await timed("packages", async () => {
    const manifest = JSON.parse(await fetchText(new URL("wheels/manifest.json", SITE)));
    // Dependencies first; loadPackage of a wheel URL installs exactly that file, offline.
    const wheels = [manifest.sortedcontainers, manifest.pyidb].map((n) => new URL(`wheels/${n}`, SITE).href);
    await pyodide.loadPackage(wheels, { checkIntegrity: false, messageCallback: () => {} });
    pyodide.FS.mkdirTree(`${APP_DIR}/pyidb_demo`);
    await Promise.all(APP_FILES.map(async (name) => {
      const text = await fetchText(new URL(`pyidb_demo/${name}`, import.meta.url));
      pyodide.FS.writeFile(`${APP_DIR}/pyidb_demo/${name}`, text);
    }));
    pyodide.runPython(`import sys\nsys.path.insert(0, ${JSON.stringify(APP_DIR)})\nimport pyidb, pyidb_demo.ui`);
  });
  const info = await timed("database", async () => {
    const result = await pyodide.runPythonAsync("import pyidb_demo.ui\nawait pyidb_demo.ui.main()");
    const out = result.toJs({ dict_converter: Object.fromEntries });
    result.destroy();
    return out;
  });
  document.getElementById("loading").hidden = true;
  document.getElementById("app").hidden = false;
  window.pyidbDemo = { pyodide };
  window.__DEMO_READY__ = info;
}

boot().catch((err) => {
  const text = String(err && err.stack ? err.stack : err);
  window.__DEMO_ERROR__ = text;
  const box = document.getElementById("boot-error");
  box.textContent = `The demo could not start:\n${text}`;
  box.hidden = false;
  document.getElementById("loading").setAttribute("aria-busy", "false");
});
