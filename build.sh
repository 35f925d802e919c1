#!/usr/bin/env bash
# pyidb build and test driver. Idempotent; works from a fresh Debian 12 / Ubuntu machine as root.
#
#   ./build.sh            same as ./build.sh all
#   ./build.sh setup      apt: chromium, postgresql (and node/npm, python3-venv if missing); .venv with
#                         pip install -e '.[test]' build; npm ci of the pinned package.json
#   ./build.sh wheel      dist/pyidb-*.whl and dist/deps/sortedcontainers-*.whl (Pyodide is offline)
#   ./build.sh site       stage site/: pyodide/ (+ micropip, packaging, sortedcontainers in its
#                         lock file), wheels/ (+ manifest.json), simple/ (PEP 503 index of wheels/),
#                         tests/ runner pages and conformance modules, web_demo/ — no network
#   ./build.sh lite       lite/: an offline JupyterLite site (its tools pinned in .venv-lite) with
#                         notebooks/ and `%pip install pyidb`, its kernel on the staged Pyodide
#   ./build.sh all        setup + wheel + site
#   ./build.sh test       all + lite, then .venv/bin/python -m pytest -q tests/ (extra args: pytest)
#   ./build.sh demo       all, then serve site/ on 127.0.0.1:${PYIDB_PORT:-8000}
#   ./build.sh notebook   all + lite, then serve lite/ (the tour notebook) on the same port
#   ./build.sh wheel site several steps in order (what the test fixtures run when the wheel is stale)
#
# Environment: PYIDB_CHROMIUM = browser executable for the Chromium runner (default
# /usr/bin/chromium); PYIDB_PORT = demo port.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$ROOT"

VENV="$ROOT/.venv"
PY="$VENV/bin/python"
SORTEDCONTAINERS_VERSION="2.4.0"
# Wheels staged into site/pyodide/ (the npm package has none): the versions its pyodide-lock.json
# names, so loadPackage("micropip") and micropip.install(...) work offline.
PYODIDE_PACKAGES=(micropip==0.11.1 packaging==26.1)
# The JupyterLite build (./build.sh lite): its tools in a venv of their own, and the wheels its
# Pyodide kernel loads by name (ipython and its dependencies, jedi, comm), at the lock's versions.
LITE_VENV="$ROOT/.venv-lite"
LITE_TOOLS=(jupyterlite-core==0.8.6 jupyterlite-pyodide-kernel==0.8.6 jupyter-server==2.21.1)
KERNEL_PACKAGES=(ipython==9.12.0 asttokens==3.0.1 decorator==5.2.1 executing==2.2.1
  matplotlib_inline==0.2.1 prompt_toolkit==3.0.52 pure_eval==0.2.3 pygments==2.20.0 six==1.17.0
  stack_data==0.6.3 traitlets==5.14.3 wcwidth==0.6.0 jedi==0.19.2 parso==0.8.6 comm==0.2.3)

log() { printf '[build.sh %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
die() { printf '[build.sh] ERROR: %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else die "need root (or sudo) to run: $*"; fi
}

APT_UPDATED=0
apt_install() {
  command -v apt-get >/dev/null || die "apt-get not found: install $* by hand"
  if [ "$APT_UPDATED" = 0 ]; then
    log "apt-get update"
    as_root apt-get update -q
    APT_UPDATED=1
  fi
  log "apt-get install $*"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@"
}

# Serialize the steps that write dist/ and site/: several people (and pytest fixtures that
# rebuild a stale wheel) may run this script in the same checkout at once.
lock() {
  mkdir -p "$ROOT/dist"
  exec 9>"$ROOT/dist/.build.lock"
  flock 9
}
unlock() { exec 9>&-; }

pg_initdb() { ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n1 | grep .; }

step_setup() {
  local t0=$SECONDS
  local chromium="${PYIDB_CHROMIUM:-/usr/bin/chromium}"
  if [ ! -x "$chromium" ]; then
    if [ -n "${PYIDB_CHROMIUM:-}" ]; then die "PYIDB_CHROMIUM=$chromium is not an executable"; fi
    apt_install chromium fonts-liberation  # fonts: pages and screenshots show real text
  else
    log "browser: $chromium"
  fi
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    apt_install nodejs npm
  fi
  # The PostgreSQL tests start a throwaway cluster of their own (tests/pg_cluster.py): only the
  # server binaries are needed.
  if ! pg_initdb >/dev/null; then
    apt_install postgresql
  fi
  local major
  major="$(node -p 'process.versions.node.split(".")[0]')"
  [ "$major" -ge 18 ] || die "Pyodide needs Node >= 18, found $(node --version)"

  if [ ! -x "$PY" ]; then
    log "creating $VENV"
    if ! python3 -m venv "$VENV" 2>/dev/null; then
      rm -rf "$VENV"
      apt_install python3-venv python3-pip
      python3 -m venv "$VENV"
    fi
  fi
  # pip only when pyproject.toml changed since the last successful install.
  local stamp="$VENV/.pyidb-installed"
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    log "pip install -e '.[test]' build"
    mkdir -p "$ROOT/dist"
    { "$PY" -m pip install -q --upgrade pip &&
      "$PY" -m pip install -q -e '.[test]' build setuptools wheel; } >dist/pip.log 2>&1 \
      || { cat dist/pip.log >&2; die "pip install failed (log above)"; }
    touch "$stamp"
  else
    log "venv up to date ($VENV)"
  fi

  local npm_stamp="node_modules/.package-lock.json"
  if [ ! -f "$npm_stamp" ] || [ package.json -nt "$npm_stamp" ] || \
     { [ -f package-lock.json ] && [ package-lock.json -nt "$npm_stamp" ]; }; then
    if [ -f package-lock.json ]; then
      log "npm ci (pinned by package-lock.json)"
      npm ci --no-audit --no-fund --loglevel=error
    else
      log "npm install (writes package-lock.json)"
      npm install --no-audit --no-fund --loglevel=error
    fi
  else
    log "node_modules up to date"
  fi
  log "setup done in $((SECONDS - t0)) s"
}

step_wheel() {
  local t0=$SECONDS
  [ -x "$PY" ] || die "no $VENV: run ./build.sh setup first"
  lock
  log "building the pyidb wheel into dist/"
  # Build aside, then rename into place: a runner reading dist/ never sees half a wheel.
  rm -rf dist/.wheel.tmp
  # --no-isolation: setup installed setuptools+wheel in the venv, so this needs no network.
  "$PY" -m build --wheel --no-isolation --outdir dist/.wheel.tmp . >dist/build.log 2>&1 \
    || { cat dist/build.log >&2; die "wheel build failed (log above)"; }
  rm -rf build pyidb.egg-info
  local built
  built="$(ls dist/.wheel.tmp/pyidb-*.whl 2>/dev/null | head -n1)" || true
  [ -n "$built" ] || die "the build made no wheel (see dist/build.log)"
  find dist -maxdepth 1 -name 'pyidb-*.whl' ! -name "$(basename "$built")" -delete
  mv -f "$built" dist/
  rm -rf dist/.wheel.tmp
  if ! ls dist/deps/sortedcontainers-"$SORTEDCONTAINERS_VERSION"-*.whl >/dev/null 2>&1; then
    log "downloading sortedcontainers==$SORTEDCONTAINERS_VERSION wheel (Pyodide installs offline)"
    "$PY" -m pip download -q "sortedcontainers==$SORTEDCONTAINERS_VERSION" --no-deps \
      --only-binary=:all: -d dist/deps
  fi
  download_pyodide_wheels dist/pyodide-packages "${PYODIDE_PACKAGES[@]}"
  unlock
  log "wheels: $(cd dist && ls pyidb-*.whl deps/*.whl | tr '\n' ' ')($((SECONDS - t0)) s)"
}

# download_pyodide_wheels DIR name==version...: pure-Python wheels for Pyodide's Python (3.14;
# micropip needs >= 3.13, so the host's own Python cannot pick them), each fetched once.
download_pyodide_wheels() {
  local dir="$1" spec missing=()
  shift
  for spec in "$@"; do
    ls "$dir/${spec%%==*}-${spec##*==}-"*.whl >/dev/null 2>&1 || missing+=("$spec")
  done
  [ ${#missing[@]} = 0 ] && return
  log "downloading wheels for Pyodide: ${missing[*]}"
  "$PY" -m pip download -q "${missing[@]}" --no-deps --only-binary=:all: --python-version 3.14 \
    --implementation py --abi none --platform any -d "$dir"
}

# Copy a source tree without bytecode caches.
copy_tree() {
  local src="$1" dst="$2"
  mkdir -p "$dst"
  (cd "$src" && find . -type f ! -path '*/__pycache__/*' ! -name '*.pyc' -print0) |
    while IFS= read -r -d '' f; do
      mkdir -p "$dst/$(dirname "$f")"
      cp "$src/$f" "$dst/$f"
    done
}

step_site() {
  local t0=$SECONDS
  [ -d node_modules/pyodide ] || die "node_modules/pyodide missing: run ./build.sh setup first"
  local pyidb_whl sc_whl
  pyidb_whl="$(ls dist/pyidb-*.whl 2>/dev/null | head -n1)" || true
  sc_whl="$(ls dist/deps/sortedcontainers-*.whl 2>/dev/null | head -n1)" || true
  [ -n "$pyidb_whl" ] && [ -n "$sc_whl" ] || die "wheels missing in dist/: run ./build.sh wheel first"
  lock
  log "staging site/"
  rm -rf site.tmp
  mkdir -p site.tmp/pyodide site.tmp/wheels site.tmp/tests
  # The runtime files of the npm pyodide package (leave out typings, source maps, docs, consoles).
  find node_modules/pyodide -maxdepth 1 -type f ! -name '*.map' ! -name '*.d.ts' \
    ! -name 'console*.html' ! -name 'README.md' -exec cp {} site.tmp/pyodide/ \;
  [ -f site.tmp/pyodide/pyodide.mjs ] && [ -f site.tmp/pyodide/pyodide.asm.wasm ] \
    || die "node_modules/pyodide looks incomplete: rm -rf node_modules && ./build.sh setup"
  cp "$pyidb_whl" "$sc_whl" site.tmp/wheels/
  # micropip, packaging and sortedcontainers loadable by name; a PEP 503 index of our wheels.
  "$PY" tools/stage_packages.py lock site.tmp/pyodide dist/pyodide-packages/*.whl "$sc_whl"
  "$PY" tools/stage_packages.py simple site.tmp/simple site.tmp/wheels/*.whl
  # Wheel file names carry versions; pages read this instead of guessing them.
  printf '{"pyidb": "%s", "sortedcontainers": "%s"}\n' \
    "$(basename "$pyidb_whl")" "$(basename "$sc_whl")" >site.tmp/wheels/manifest.json
  for d in runners conformance model_conformance browser demo; do
    [ -d "tests/$d" ] && copy_tree "tests/$d" "site.tmp/tests/$d"
  done
  # A browser cannot list a directory: the runner page reads the module list from here.
  (cd tests/conformance && ls test_*.py 2>/dev/null || true) | "$PY" -c \
    'import json, sys; print(json.dumps([l.strip() for l in sys.stdin if l.strip()]))' \
    >site.tmp/tests/conformance/index.json
  [ -d web_demo ] && copy_tree web_demo site.tmp/web_demo
  copy_tree examples site.tmp/examples  # the README's "Use it in ..." pages
  mkdir -p site.tmp/pyscript  # PyScript, served locally for examples/pyscript.html
  find node_modules/@pyscript/core/dist -maxdepth 1 -type f \( -name '*.js' -o -name '*.css' \) \
    -exec cp {} site.tmp/pyscript/ \;
  cat >site.tmp/index.html <<'HTML'
<!doctype html>
<meta charset="utf-8">
<title>pyidb site</title>
<h1>pyidb</h1>
<ul>
  <li><a href="web_demo/index.html">Demo app</a></li>
  <li><a href="tests/runners/browser_runner.html?run=1">Conformance suite on this browser's IndexedDB</a></li>
  <li><a href="tests/runners/browser_runner.html?run=1&amp;worker=1">The same suite in a module Web Worker</a></li>
  <li><a href="examples/micropip.html">micropip.install("pyidb") from the site's index</a></li>
  <li><a href="examples/pyscript.html">PyScript: main thread and worker</a></li>
</ul>
HTML
  rm -rf site
  mv site.tmp site
  unlock
  log "site/ ready: $(du -sh site | cut -f1) ($((SECONDS - t0)) s)"
}

step_all() { step_setup; step_wheel; step_site; }

# lite/: an offline JupyterLite site (notebooks/ as its files) whose Pyodide kernel loads the
# staged Pyodide, never a CDN, and installs pyidb with `%pip install pyidb` from the site's pypi/.
step_lite() {
  local t0=$SECONDS
  [ -f site/pyodide/pyodide-lock.json ] || die "site/ is not staged: run ./build.sh site first"
  local stamp="$LITE_VENV/.tools-installed" tools="${LITE_TOOLS[*]}"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$tools" ]; then
    log "creating $LITE_VENV with ${LITE_TOOLS[*]}"
    rm -rf "$LITE_VENV"
    python3 -m venv "$LITE_VENV"
    "$LITE_VENV/bin/python" -m pip install -q "${LITE_TOOLS[@]}" >dist/lite-pip.log 2>&1 \
      || { cat dist/lite-pip.log >&2; die "pip install of the JupyterLite tools failed (log above)"; }
    printf '%s' "$tools" >"$stamp"
  fi
  lock
  download_pyodide_wheels dist/pyodide-packages "${KERNEL_PACKAGES[@]}"
  local kernel_wheels=() spec
  for spec in "${KERNEL_PACKAGES[@]}"; do
    kernel_wheels+=("$(ls dist/pyodide-packages/"${spec%%==*}"-"${spec##*==}"-*.whl | head -n1)")
  done
  # The lite dir: its config, and a Pyodide folder the kernel addon copies to static/pyodide/.
  local src=dist/lite-src
  # Fresh each time (a few seconds): jupyter lite's task cache there would skip patching a new
  # output folder's jupyter-lite.json (pyodideUrl) when its inputs look unchanged.
  rm -rf "$src"
  mkdir -p "$src/static" "$src/pypi"
  cp site/wheels/*.whl "$src/pypi/"  # the well-known folder: `%pip install pyidb` finds them
  cp -r site/pyodide "$src/static/pyodide"
  "$PY" tools/stage_packages.py lock "$src/static/pyodide" "${kernel_wheels[@]}"
  cat >"$src/jupyter-lite.json" <<'JSON'
{
  "jupyter-lite-schema-version": 0,
  "jupyter-config-data": {
    "litePluginSettings": {
      "@jupyterlite/pyodide-kernel-extension:kernel": {"disablePyPIFallback": true}
    }
  }
}
JSON
  # Every cell in the page (no windowing): what a reader scrolls through, and what the test drives.
  printf '{"@jupyterlab/notebook-extension:tracker": {"windowingMode": "none"}}\n' >"$src/overrides.json"
  rm -rf lite.tmp
  log "jupyter lite build (log: dist/lite-build.log)"
  (cd "$src" && "$LITE_VENV/bin/jupyter" lite build --lite-dir . --output-dir "$ROOT/lite.tmp" \
      --contents "$ROOT/notebooks" --no-sourcemaps) \
    >dist/lite-build.log 2>&1 || { tail -n 40 dist/lite-build.log >&2; die "jupyter lite build failed"; }
  rm -rf lite
  mv lite.tmp lite
  unlock
  log "lite/ ready: $(du -sh lite | cut -f1) ($((SECONDS - t0)) s)"
}

step_notebook() {
  step_all
  step_lite
  local port="${PYIDB_PORT:-8000}"
  log "serving lite/ — open http://127.0.0.1:$port/notebooks/index.html?path=pyidb-tour.ipynb (Ctrl-C stops)"
  exec "$PY" tests/runners/serve.py lite --port "$port" --page "notebooks/index.html?path=pyidb-tour.ipynb"
}

step_test() {
  step_all
  if [ "${CI:-}" = true ]; then
    pg_initdb >/dev/null || die "CI must run the PostgreSQL tests, but initdb is missing after setup"
  fi
  step_lite
  log "running pytest over tests/"
  local t0=$SECONDS rc=0
  mkdir -p test-artifacts
  "$PY" -m pytest -q tests "$@" || rc=$?
  log "pytest finished with exit code $rc in $((SECONDS - t0)) s"
  return $rc
}

step_demo() {
  step_all
  local port="${PYIDB_PORT:-8000}"
  log "serving site/ — open http://127.0.0.1:$port/web_demo/index.html (Ctrl-C stops)"
  # Our server, not plain http.server: it sends the .mjs/.wasm MIME types module loading needs.
  exec "$PY" tests/runners/serve.py site --port "$port"
}

# Steps run in the order given (./build.sh wheel site); test and demo take the rest as arguments.
[ $# -gt 0 ] || set -- all
case "$1" in
  test) shift; step_test "$@"; exit ;;
  demo) step_demo; exit ;;
  notebook) step_notebook; exit ;;
esac
for cmd in "$@"; do
  case "$cmd" in
    setup) step_setup ;;
    wheel) step_wheel ;;
    site) step_site ;;
    all) step_all ;;
    lite) step_lite ;;
    -h|--help|help) sed -n '2,20p' "$0" ;;
    *) die "unknown command '$cmd' (setup, wheel, site, lite, all, test, demo, notebook)" ;;
  esac
done
