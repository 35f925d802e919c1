// The five workloads of bench/workloads.py in plain JavaScript IndexedDB, and (browser only) Dexie.
// Shared by bench/node_bench.mjs (fake-indexeddb) and bench/bench_page.html (Chromium):
//
//   const ms = await rawRunOnce(indexedDB, IDBKeyRange, "bench-raw-1", 10000);  // {write: 123, ...}
//
// Same data, keys and ranges as the Python side (record(), loopKeys(), rangeBounds()). Every timed
// step ends when its transaction has completed, as pyidb's `async with` does.

export const STORE = "tasks";
export const INDEX = "by_n";
export const LOOP = 1000;
export const RANGE = 1000;
export const WORKLOADS = ["write", "get_put", "get_all", "cursor", "index_range"];

export function record(i) {
  return { id: i, title: `task ${i}`, tags: [`t${i % 7}`, `t${i % 11}`, `t${i % 13}`],
           done: i % 2 === 0, n: i * 0.5 + 0.25 };
}

export function records(n) {
  const out = new Array(n);
  for (let i = 0; i < n; i++) out[i] = record(i);
  return out;
}

export function loopKeys(n, count = LOOP) {
  count = Math.min(count, n);
  const step = Math.max(1, Math.floor(n / count));
  return Array.from({ length: count }, (_, i) => (i * step) % n);
}

export function rangeBounds(n, count = RANGE) {
  count = Math.min(count, n);
  const first = Math.floor((n - count) / 2);
  return [record(first).n, record(first + count - 1).n];
}

function check(ok, message) {
  if (!ok) throw new Error(message);
}

const req = (r) => new Promise((resolve, reject) => {
  r.onsuccess = () => resolve(r.result);
  r.onerror = () => reject(r.error);
});

const done = (tx) => new Promise((resolve, reject) => {
  tx.oncomplete = () => resolve();
  tx.onabort = () => reject(tx.error || new Error("transaction aborted"));
  tx.onerror = () => reject(tx.error);
});

function openDb(indexedDB, name) {
  const open = indexedDB.open(name, 1);
  open.onupgradeneeded = () => {
    const store = open.result.createObjectStore(STORE, { keyPath: "id" });
    store.createIndex(INDEX, "n");
  };
  return req(open);
}

export function deleteDb(indexedDB, name) {
  return req(indexedDB.deleteDatabase(name));
}

/** Raw IndexedDB: puts in one tx, awaited get+put loop, getAll, a cursor walk, index getAll. */
// mark(workload, starting), if given, is called around each workload (profiling cuts).
export async function rawRunOnce(indexedDB, IDBKeyRange, name, n, data = records(n), mark = () => {}) {
  const keys = loopKeys(n);
  const [lo, hi] = rangeBounds(n);
  const out = {};
  const db = await openDb(indexedDB, name);
  try {
    mark("write", true);
    let t = performance.now();
    let tx = db.transaction(STORE, "readwrite");
    let store = tx.objectStore(STORE);
    for (const r of data) store.put(r);
    await done(tx);
    out.write = performance.now() - t;
    mark("write", false);

    mark("get_put", true);
    t = performance.now();
    tx = db.transaction(STORE, "readwrite");
    store = tx.objectStore(STORE);
    const finished = done(tx);
    for (const k of keys) {
      const value = await req(store.get(k));
      value.done = !value.done;
      await req(store.put(value));
    }
    await finished;
    out.get_put = performance.now() - t;
    mark("get_put", false);

    mark("get_all", true);
    t = performance.now();
    tx = db.transaction(STORE);
    const all = await req(tx.objectStore(STORE).getAll());
    await done(tx);
    out.get_all = performance.now() - t;
    mark("get_all", false);
    check(all.length === n, `getAll gave ${all.length}`);

    mark("cursor", true);
    t = performance.now();
    tx = db.transaction(STORE);
    let seen = 0;
    await new Promise((resolve, reject) => {
      const cursorReq = tx.objectStore(STORE).openCursor();
      cursorReq.onerror = () => reject(cursorReq.error);
      cursorReq.onsuccess = () => {
        const cursor = cursorReq.result;
        if (!cursor) return resolve();
        seen += cursor.value.id >= 0;
        cursor.continue();
      };
    });
    await done(tx);
    out.cursor = performance.now() - t;
    mark("cursor", false);
    check(seen === n, `cursor saw ${seen}`);

    mark("index_range", true);
    t = performance.now();
    tx = db.transaction(STORE);
    const ranged = await req(tx.objectStore(STORE).index(INDEX).getAll(IDBKeyRange.bound(lo, hi)));
    await done(tx);
    out.index_range = performance.now() - t;
    mark("index_range", false);
    check(ranged.length === Math.min(RANGE, n), `index range gave ${ranged.length}`);
  } finally {
    db.close();
  }
  return out;
}

/** Raw IndexedDB 3.0 (Chromium): getAllRecords() of all N records, and getAll() + getAllKeys()
 * in one transaction (bench/workloads.py RECORD_WORKLOADS). */
export async function rawRecordsOnce(indexedDB, name, n, data = records(n)) {
  const out = {};
  const db = await openDb(indexedDB, name);
  try {
    let tx = db.transaction(STORE, "readwrite");
    let store = tx.objectStore(STORE);
    for (const r of data) store.put(r);
    await done(tx);
    // an untimed read first (as in bench/workloads.py records_once)
    tx = db.transaction(STORE);
    await req(tx.objectStore(STORE).getAllKeys());
    await done(tx);

    let t = performance.now();
    tx = db.transaction(STORE);
    const got = await req(tx.objectStore(STORE).getAllRecords());
    await done(tx);
    // read every record, as pyidb hands every one to Python (IDBRecord fields are getters)
    let seen = 0;
    for (const r of got) seen += r.primaryKey === r.value.id && r.key === r.primaryKey;
    out.get_all_records = performance.now() - t;
    check(seen === n, `getAllRecords gave ${got.length} records, ${seen} right`);

    t = performance.now();
    tx = db.transaction(STORE);
    store = tx.objectStore(STORE);
    const keysReq = req(store.getAllKeys());
    const values = await req(store.getAll());
    const keys = await keysReq;
    await done(tx);
    let matched = 0;
    for (let i = 0; i < n; i++) matched += keys[i] === values[i].id;
    out["get_all+keys"] = performance.now() - t;
    check(matched === n, `getAll + getAllKeys gave ${keys.length} records, ${matched} right`);
  } finally {
    db.close();
  }
  return out;
}

/** Dexie: bulkPut, get/put loop in db.transaction, toArray, each(), where().between(). */
export async function dexieRunOnce(Dexie, name, n, data = records(n)) {
  const keys = loopKeys(n);
  const [lo, hi] = rangeBounds(n);
  const out = {};
  const db = new Dexie(name);
  db.version(1).stores({ [STORE]: "id, n" });  // Dexie names the index after its key path
  await db.open();
  const table = db.table(STORE);
  try {
    let t = performance.now();
    await db.transaction("rw", table, () => table.bulkPut(data));
    out.write = performance.now() - t;

    t = performance.now();
    await db.transaction("rw", table, async () => {
      for (const k of keys) {
        const value = await table.get(k);
        value.done = !value.done;
        await table.put(value);
      }
    });
    out.get_put = performance.now() - t;

    t = performance.now();
    const all = await db.transaction("r", table, () => table.toArray());
    out.get_all = performance.now() - t;
    check(all.length === n, `toArray gave ${all.length}`);

    t = performance.now();
    let seen = 0;
    await db.transaction("r", table, () => table.each((v) => { seen += v.id >= 0; }));
    out.cursor = performance.now() - t;
    check(seen === n, `each saw ${seen}`);

    t = performance.now();
    const ranged = await db.transaction("r", table,
      () => table.where("n").between(lo, hi, true, true).toArray());
    out.index_range = performance.now() - t;
    check(ranged.length === Math.min(RANGE, n), `between gave ${ranged.length}`);
  } finally {
    db.close();
  }
  await Dexie.delete(name);
  return out;
}
