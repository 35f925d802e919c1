// pyidb browser shim: the JavaScript half of pyidb.browser (Pyodide in a page).
//
// Why it exists: every call from Python to IndexedDB crosses Pyodide's FFI. Crossing with JS
// objects costs one proxy per object (and each must be destroyed); crossing with numbers and
// strings costs nothing to clean up. So this shim keeps every IndexedDB object (connections,
// transactions, stores, cursors) on the JS side in a table keyed by integer ids that Python
// chooses, and exchanges only ints and strings:
//   - arguments go in as ONE wire text (pyidb/values.py format, decoded by codec.js fromWire);
//   - results come back through ONE Python callback, `dispatch(id, kind, text)`, registered once
//     with init(), called inside the IndexedDB event (so the awaiting Python task resumes while
//     the transaction is still active);
//   - synchronous errors come back as a return value "\u0000Name\nmessage" instead of a throw.
//
// The file is evaluated by pyidb/browser/shim.py as the body of `(codec) => { ... }` and returns
// the shim object. The event kinds given to dispatch are the EVENT constants below (one letter on
// the wire; pyidb/browser/shim.py names the same letters in its class Event).

"use strict";

const { fromWire, toWire } = codec;
let dispatch = null; // the Python dispatcher (one PyProxy for the page's lifetime)
const dbs = new Map(); // id -> IDBDatabase
const txs = new Map(); // id -> {tx, cache: Map|null, cursors: number[]}
const cursors = new Map(); // id -> {req, cursor, last, withValue}
const ERR = "\u0000";

// What dispatch(id, kind, text) reports; the same names and letters as Event in shim.py.
const EVENT = Object.freeze({
  SUCCESS: "s", // a request succeeded: its result as wire text
  ERROR: "e", // a request failed: "Name\nmessage"; dispatch returns true if Python handled it
  UNSENDABLE: "x", // a request succeeded but its result cannot be sent to Python: "Name\nmessage"
  UPGRADE_NEEDED: "u", // an open needs an upgrade: JSON
  BLOCKED: "b", // an open or delete is blocked by other connections: JSON {old, new}
  VERSION_CHANGE: "v", // another connection wants to upgrade or delete: JSON
  CLOSED: "c", // the browser closed the connection
  COMPLETE: "C", // a transaction committed
  ABORT: "A", // a transaction aborted: "Name\nmessage", or "" if it has no error
});

function errText(e) {
  if (e === null || e === undefined) return "";
  const name = e && typeof e.name === "string" ? e.name : "Error";
  const message = e && typeof e.message === "string" ? e.message : String(e);
  return name + "\n" + message;
}

function fail(e) {
  return ERR + errText(e);
}

function notFound(what) {
  return ERR + "InvalidStateError\n" + what + " is closed or finished";
}

// A JSON query from Python: null (none), a key, or {l, u, lo, uo} for a KeyRange.
function toQuery(q) {
  if (q === null || q === undefined) return undefined;
  if (typeof q === "object" && !Array.isArray(q) && !(q instanceof Date) && !(q instanceof ArrayBuffer)) {
    const { l, u, lo, uo } = q;
    if (l === null) return IDBKeyRange.upperBound(u, uo);
    if (u === null) return IDBKeyRange.lowerBound(l, lo);
    return IDBKeyRange.bound(l, u, lo, uo);
  }
  return q;
}

function storeOf(rec, name) {
  if (rec.cache === null) return rec.tx.objectStore(name); // versionchange: stores may be replaced
  let s = rec.cache.get(name);
  if (s === undefined) {
    s = rec.tx.objectStore(name);
    rec.cache.set(name, s);
  }
  return s;
}

function sourceOf(rec, store, index) {
  const s = storeOf(rec, store);
  if (!index) return s;
  if (rec.cache === null) return s.index(index);
  const k = store + "\u0000" + index;
  let i = rec.cache.get(k);
  if (i === undefined) {
    i = s.index(index);
    rec.cache.set(k, i);
  }
  return i;
}

// dispatch(id, EVENT.SUCCESS, encode(result)), or "x" if the result cannot go to Python (e.g. a Map that
// other JS code stored: codec.js throws DataCloneError); Python then fails the request.
function succeed(id, encode, result) {
  let text;
  try {
    text = encode(result);
  } catch (e) {
    dispatch(id, EVENT.UNSENDABLE, errText(e));
    return;
  }
  dispatch(id, EVENT.SUCCESS, text);
}

// Wire a request's success and error events to dispatch(id, ...).
function track(id, req, encode) {
  req.onsuccess = () => succeed(id, encode, req.result);
  req.onerror = (ev) => {
    if (dispatch(id, EVENT.ERROR, errText(req.error))) ev.preventDefault();
  };
  return "";
}

const plain = (r) => toWire(r);

// getAllRecords() and the options form of getAll()/getAllKeys() with a direction (IndexedDB 3.0),
// detected once. Without them (older browsers) a cursor collects the same items (getAllByCursor),
// or, for a store's records in direction "next", getAllKeys + getAll (storeRecords, which a
// store's records always use).
const hasGetAllRecords = typeof IDBObjectStore !== "undefined" &&
  typeof IDBObjectStore.prototype.getAllRecords === "function";
let nativeGetAll = hasGetAllRecords;

// An index's getAllRecords result as one wire text [primaryKeys, values, indexKeys].
function indexRecordsWire(records) {
  const n = records.length;
  const pks = new Array(n);
  const values = new Array(n);
  const keys = new Array(n);
  for (let i = 0; i < n; i++) {
    const r = records[i];
    pks[i] = r.primaryKey;
    values[i] = r.value;
    keys[i] = r.key;
  }
  return toWire([pks, values, keys]);
}

// A store's records as getAllKeys + getAll placed back to back, as one wire text [primaryKeys,
// values]: nothing runs between two requests placed together, so they read the same records (even
// in a readwrite transaction whose later requests write, which a cursor would see). In Chromium
// the pair is faster than getAllRecords, whose IDBRecord objects cost a getter call per field.
// `options` is the 3.0 dictionary (with a direction), or null for the two-argument form ("next").
function storeRecords(id, src, query, count, options) {
  const n = count === null ? undefined : count;
  const keysReq = options === null ? src.getAllKeys(query, n) : src.getAllKeys(options);
  const valuesReq = options === null ? src.getAll(query, n) : src.getAll(options);
  let pks = null;
  keysReq.onsuccess = () => {
    pks = keysReq.result;
  };
  keysReq.onerror = (ev) => {  // then the values request fails too (the transaction aborts)
    if (dispatch(id, EVENT.ERROR, errText(keysReq.error))) ev.preventDefault();
  };
  valuesReq.onsuccess = () => {
    if (pks !== null) succeed(id, toWire, [pks, valuesReq.result]);
  };
  valuesReq.onerror = (ev) => {
    if (pks !== null && dispatch(id, EVENT.ERROR, errText(valuesReq.error))) ev.preventDefault();
  };
  return "";
}

// getAll/getAllKeys/getAllRecords with a direction, where the browser lacks them: a cursor in that
// direction collects up to `count` items (its unique directions are the spec's), and the request
// answers once, with the text the native call would give.
function getAllByCursor(id, src, op, query, count, direction, isIndex) {
  const withValue = op !== "getAllKeys";
  const req = withValue ? src.openCursor(query, direction) : src.openKeyCursor(query, direction);
  const pks = [];
  const values = [];
  const keys = [];
  req.onsuccess = () => {
    const c = req.result;
    if (c !== null) {
      pks.push(c.primaryKey);
      if (withValue) values.push(c.value);
      if (isIndex) keys.push(c.key);
      if (count === null || pks.length < count) {
        c.continue();
        return;
      }
    }
    if (op === "getAll") succeed(id, toWire, values);
    else if (op === "getAllKeys") succeed(id, toWire, pks);
    else succeed(id, toWire, isIndex ? [pks, values, keys] : [pks, values]);
  };
  req.onerror = (ev) => {
    if (dispatch(id, EVENT.ERROR, errText(req.error))) ev.preventDefault();
  };
  return "";
}

// Cursor pages. Each success event of a cursor request is one record; the shim sends records to
// Python in pages: one wire text "[flag, record, ...]", record = [key, primaryKey(, value)].
// flag 0: the IDBCursor stands on the page's last record; 1: it went past the end after the
// last record; a string (an error text): the last record is one Python cannot hold (sent as
// [key, primaryKey] only), and the IDBCursor stands on it. In a readonly transaction nothing
// can change the records under a cursor, so the shim continues the cursor itself until the page
// is full (pages grow from PAGE_FIRST to PAGE_MAX records) and Python serves its continue()
// calls from the page; elsewhere a page is one record, so the cursor sees the transaction's writes.
const PAGE_FIRST = 16;
const PAGE_MAX = 512;

function flushPage(id, entry, flag) {
  const parts = entry.parts;
  entry.parts = [];
  dispatch(id, EVENT.SUCCESS, parts.length === 0 ? "[" + flag + "]" : "[" + flag + "," + parts.join(",") + "]");
}

function trackCursor(id, entry) {
  const req = entry.req;
  req.onsuccess = () => {
    const c = req.result;
    entry.cursor = c;
    if (c === null) {
      flushPage(id, entry, "1");
      return;
    }
    entry.last = c;
    let text;
    try {
      text = entry.withValue ? toWire([c.key, c.primaryKey, c.value]) : toWire([c.key, c.primaryKey]);
    } catch (e) {
      if (entry.parts.length === 0) {
        dispatch(id, EVENT.UNSENDABLE, errText(e));
        return;
      }
      entry.bad = errText(e);
      entry.parts.push(toWire([c.key, c.primaryKey]));
      flushPage(id, entry, JSON.stringify(entry.bad));
      return;
    }
    entry.parts.push(text);
    if (entry.parts.length < entry.size) {
      try {
        c.continue();
        return;
      } catch {
        // cannot go on (e.g. the transaction is finishing): send what there is
      }
    } else if (entry.size > 1 && entry.size < PAGE_MAX) {
      entry.size *= 2;
    }
    flushPage(id, entry, "0");
  };
  req.onerror = (ev) => {
    entry.parts = [];
    if (dispatch(id, EVENT.ERROR, errText(req.error))) ev.preventDefault();
  };
  return "";
}

// Batches: issue every request now, answer once (after the last succeeds). A failing record
// aborts the transaction (IndexedDB cannot undo the records before it), so nothing stays.
// A big putMany/addMany comes in chunks (request(), then batchMore() until `count` are issued):
// the browser starts storing the first records while Python still encodes the next ones.
const batches = new Map(); // request id -> batch still waiting for chunks

function newBatch(id, rec, count, collect) {
  return { id, rec, count, results: collect ? new Array(count) : null, failed: false, done: 0, last: null };
}

// Issue requests b.done .. end-1 with issue(i); the last request of the batch answers Python.
function addToBatch(b, end, issue) {
  // No preventDefault, whatever Python says: the browser's default action aborts the
  // transaction with this error as tx.error. The requests after it then fail with AbortError.
  const onError = (req) => () => {
    if (b.failed) return;
    b.failed = true;
    dispatch(b.id, EVENT.ERROR, errText(req.error));
  };
  const results = b.results;
  for (let i = b.done; i < end; i++) {
    let req;
    try {
      req = issue(i);
    } catch (e) {
      if (i > 0) {
        try {
          b.rec.tx.abort();
        } catch {
          // already finished
        }
      }
      b.done = b.count;
      batches.delete(b.id);
      return fail(e);
    }
    if (results !== null) {
      req.onsuccess = () => {
        results[i] = req.result;
      };
    }
    req.onerror = onError(req);
    b.last = req;
  }
  b.done = end;
  if (end === b.count) {
    batches.delete(b.id);
    const last = b.last;
    last.onsuccess = () => {
      if (results !== null) results[b.count - 1] = last.result;
      succeed(b.id, toWire, results);
    };
  }
  return "";
}

function batch(id, rec, store, count, issue, collect) {
  if (count === 0) {
    // An empty batch is still a request: complete it in order with the transaction's others.
    const req = store.count(IDBKeyRange.only(0));
    req.onsuccess = () => dispatch(id, EVENT.SUCCESS, "[]");
    req.onerror = () => dispatch(id, EVENT.ERROR, errText(req.error));
    return "";
  }
  return addToBatch(newBatch(id, rec, count, collect), count, issue);
}

// One chunk of a putMany/addMany: values[j] (and keys[j]) are records base + j of the batch.
function storeChunk(b, src, m, values, keys) {
  const base = b.done;
  return addToBatch(b, base + values.length, keys === null
    ? (i) => src[m](values[i - base])
    : (i) => src[m](values[i - base], keys[i - base]));
}

const shim = {
  /** Register the Python dispatcher; call once. */
  init(fn) {
    dispatch = fn;
  },

  /** True if this global scope can use IndexedDB (not Node, not an opaque-origin iframe). */
  available() {
    try {
      if (typeof process !== "undefined" && process.versions && process.versions.node) return false;
      if (typeof indexedDB === "undefined" || indexedDB === null) return false;
      if (typeof self !== "undefined" && self.origin === "null") return false;
      return typeof indexedDB.open === "function";
    } catch {
      return false;
    }
  },

  /** Whether getAll* use the browser's getAllRecords/options form (else the cursor path); tests
   * force the cursor path with useNativeGetAll(false). Returns whether the browser has them. */
  useNativeGetAll(on) {
    nativeGetAll = on && hasGetAllRecords;
    return hasGetAllRecords;
  },

  /** Live handle counts, for leak tests: [dbs, transactions, cursors]. */
  stats() {
    return JSON.stringify([dbs.size, txs.size, cursors.size]);
  },

  // -- factory ------------------------------------------------------------------------------
  open(id, txId, name, version) {
    let req;
    try {
      req = version > 0 ? indexedDB.open(name, version) : indexedDB.open(name);
    } catch (e) {
      return fail(e);
    }
    const connect = () => {
      const db = req.result;
      if (dbs.has(id)) return;
      dbs.set(id, db);
      db.onversionchange = (ev) =>
        dispatch(id, EVENT.VERSION_CHANGE, JSON.stringify({ old: ev.oldVersion, new: ev.newVersion }));
      db.onclose = () => dispatch(id, EVENT.CLOSED, "");
    };
    req.onupgradeneeded = (ev) => {
      connect();
      shim._adopt(txId, req.transaction, false);
      dispatch(id, EVENT.UPGRADE_NEEDED, JSON.stringify({ old: ev.oldVersion, new: ev.newVersion }));
    };
    req.onblocked = (ev) => dispatch(id, EVENT.BLOCKED, JSON.stringify({ old: ev.oldVersion, new: ev.newVersion }));
    req.onsuccess = () => {
      connect();
      dispatch(id, EVENT.SUCCESS, "");
    };
    req.onerror = (ev) => {
      ev.preventDefault();
      dbs.delete(id);
      dispatch(id, EVENT.ERROR, errText(req.error));
    };
    return "";
  },

  deleteDatabase(id, name) {
    let req;
    try {
      req = indexedDB.deleteDatabase(name);
    } catch (e) {
      return fail(e);
    }
    req.onblocked = (ev) => dispatch(id, EVENT.BLOCKED, JSON.stringify({ old: ev.oldVersion, new: ev.newVersion }));
    req.onsuccess = () => dispatch(id, EVENT.SUCCESS, "");
    req.onerror = (ev) => {
      ev.preventDefault();
      dispatch(id, EVENT.ERROR, errText(req.error));
    };
    return "";
  },

  databases(id) {
    indexedDB.databases().then(
      (list) => dispatch(id, EVENT.SUCCESS, JSON.stringify(list.map((d) => ({ name: d.name, version: d.version })))),
      (e) => dispatch(id, EVENT.ERROR, errText(e)),
    );
    return "";
  },

  // -- connections --------------------------------------------------------------------------
  dbInfo(id) {
    const db = dbs.get(id);
    if (db === undefined) return notFound("the connection");
    return JSON.stringify([db.version, Array.from(db.objectStoreNames)]);
  },

  dbClose(id) {
    const db = dbs.get(id);
    if (db !== undefined) {
      db.onversionchange = null;
      db.onclose = null;
      db.close();
      dbs.delete(id);
    }
    return "";
  },

  createObjectStore(id, name, keyPathJson, autoIncrement) {
    const db = dbs.get(id);
    if (db === undefined) return notFound("the connection");
    try {
      const opts = { autoIncrement };
      if (keyPathJson !== "") opts.keyPath = JSON.parse(keyPathJson);
      db.createObjectStore(name, opts);
      return "";
    } catch (e) {
      return fail(e);
    }
  },

  deleteObjectStore(id, name) {
    const db = dbs.get(id);
    if (db === undefined) return notFound("the connection");
    try {
      db.deleteObjectStore(name);
      return "";
    } catch (e) {
      return fail(e);
    }
  },

  transaction(id, txId, namesJson, mode, durability) {
    const db = dbs.get(id);
    if (db === undefined) return ERR + "InvalidStateError\nthe connection is closed";
    try {
      const tx = db.transaction(JSON.parse(namesJson), mode, { durability });
      shim._adopt(txId, tx, true);
      return "";
    } catch (e) {
      return fail(e);
    }
  },

  _adopt(txId, tx, cache) {
    const rec = { tx, cache: cache ? new Map() : null, cursors: [] };
    txs.set(txId, rec);
    const finish = () => {
      txs.delete(txId);
      for (const c of rec.cursors) cursors.delete(c);
    };
    tx.oncomplete = () => {
      finish();
      dispatch(txId, EVENT.COMPLETE, "");
    };
    tx.onabort = () => {
      finish();
      dispatch(txId, EVENT.ABORT, errText(tx.error));
    };
  },

  // -- transactions -------------------------------------------------------------------------
  txNames(txId) {
    const rec = txs.get(txId);
    if (rec === undefined) return notFound("the transaction");
    return JSON.stringify(Array.from(rec.tx.objectStoreNames));
  },

  /** Active probe without side effects: get(undefined) throws TransactionInactiveError when the
   * transaction is inactive and DataError (before creating any request) when it is active. */
  txActive(txId) {
    const rec = txs.get(txId);
    if (rec === undefined) return false;
    const names = rec.tx.objectStoreNames;
    if (names.length === 0) return true;
    try {
      rec.tx.objectStore(names[0]).get(undefined);
    } catch (e) {
      return e.name === "DataError"; // finished: objectStore() throws InvalidStateError
    }
    return true;
  },

  commit(txId) {
    const rec = txs.get(txId);
    if (rec === undefined) return ERR + "InvalidStateError\nthe transaction has finished";
    try {
      rec.tx.commit();
      return "";
    } catch (e) {
      return fail(e);
    }
  },

  abort(txId) {
    const rec = txs.get(txId);
    if (rec === undefined) return ERR + "InvalidStateError\nthe transaction has already committed or aborted";
    try {
      rec.tx.abort();
      return "";
    } catch (e) {
      return fail(e);
    }
  },

  // -- stores and indexes -------------------------------------------------------------------
  storeInfo(txId, name) {
    const rec = txs.get(txId);
    if (rec === undefined) return ERR + "InvalidStateError\nthe transaction has finished";
    try {
      const s = storeOf(rec, name);
      return JSON.stringify([s.keyPath, s.autoIncrement, Array.from(s.indexNames)]);
    } catch (e) {
      return fail(e);
    }
  },

  indexInfo(txId, store, name) {
    const rec = txs.get(txId);
    if (rec === undefined) return ERR + "InvalidStateError\nthe transaction has finished";
    try {
      const i = sourceOf(rec, store, name);
      return JSON.stringify([i.keyPath, i.unique, i.multiEntry]);
    } catch (e) {
      return fail(e);
    }
  },

  createIndex(txId, store, name, keyPathJson, unique, multiEntry) {
    const rec = txs.get(txId);
    if (rec === undefined) return ERR + "InvalidStateError\nthe transaction has finished";
    try {
      storeOf(rec, store).createIndex(name, JSON.parse(keyPathJson), { unique, multiEntry });
      return "";
    } catch (e) {
      return fail(e);
    }
  },

  rename(txId, store, index, newName) {
    // IDBObjectStore.name / IDBIndex.name setters: the browser checks and renames
    const rec = txs.get(txId);
    if (rec === undefined) return ERR + "InvalidStateError\nthe transaction has finished";
    try {
      const s = storeOf(rec, store);
      (index ? s.index(index) : s).name = newName;
      return "";
    } catch (e) {
      return fail(e);
    }
  },

  deleteIndex(txId, store, name) {
    const rec = txs.get(txId);
    if (rec === undefined) return ERR + "InvalidStateError\nthe transaction has finished";
    try {
      storeOf(rec, store).deleteIndex(name);
      return "";
    } catch (e) {
      return fail(e);
    }
  },

  /** The checks a request makes before it looks at its arguments (deleted source, inactive
   * transaction, read-only), without placing one: a key range `{}` fails them all with DataError
   * if they pass. Python calls it when its own argument check failed, so that the browser's
   * earlier checks win as in JS. Returns "" if they pass, else the error. */
  probe(txId, store, index, write) {
    const rec = txs.get(txId);
    if (rec === undefined) return ERR + "TransactionInactiveError\nthe transaction has finished";
    try {
      const src = sourceOf(rec, store, index);
      if (write) src.delete({});
      else src.get({});
    } catch (e) {
      return e.name === "DataError" ? "" : fail(e);
    }
    return "";
  },

  /** Like probe, for a cursor: "move" (continue) or "update". */
  cursorProbe(id, what) {
    const entry = cursors.get(id);
    if (entry === undefined) return ERR + "TransactionInactiveError\nthe transaction has finished";
    const c = entry.cursor || entry.last;
    if (c === null) return ERR + "InvalidStateError\nthe cursor is being iterated";
    try {
      if (what === "update") c.update(Symbol("not clonable"));
      else c.continue({});
    } catch (e) {
      return e.name === "DataError" || e.name === "DataCloneError" ? "" : fail(e);
    }
    return "";
  },

  /** Place one request `op` on store (or index) with the wire-encoded argument list. */
  request(txId, id, store, index, op, argsWire) {
    const rec = txs.get(txId);
    if (rec === undefined) return ERR + "TransactionInactiveError\nthe transaction has finished";
    try {
      const src = sourceOf(rec, store, index);
      const args = fromWire(argsWire);
      switch (op) {
        case "put":
        case "add":
          return track(id, args.length > 1 ? src[op](args[0], args[1]) : src[op](args[0]), plain);
        case "get":
        case "getKey":
        case "delete":
          return track(id, src[op](toQuery(args[0])), plain);
        case "count":
          return track(id, src.count(toQuery(args[0])), plain);
        case "clear":
          return track(id, src.clear(), plain);
        case "getAll":
        case "getAllKeys":
        case "getAllRecords": {
          const [q, count, direction] = args;
          const query = toQuery(q);
          if (op !== "getAllRecords" && direction === "next") {
            return track(id, src[op](query, count === null ? undefined : count), plain);
          }
          const isIndex = index !== "";
          const options = count === null ? { query, direction } : { query, count, direction };
          if (!isIndex && op === "getAllRecords" && (nativeGetAll || direction.startsWith("next"))) {
            return storeRecords(id, src, query, count, nativeGetAll ? options : null);
          }
          if (!nativeGetAll) return getAllByCursor(id, src, op, query, count, direction, isIndex);
          return track(id, src[op](options), op === "getAllRecords" ? indexRecordsWire : plain);
        }
        case "openCursor":
        case "openKeyCursor": {
          const req = src[op](toQuery(args[0]), args[1]);
          const size = rec.tx.mode === "readonly" ? PAGE_FIRST : 1;
          const entry = { req, cursor: null, last: null, withValue: op === "openCursor", size, parts: [], bad: "" };
          cursors.set(id, entry);
          rec.cursors.push(id);
          return trackCursor(id, entry);
        }
        case "putMany":
        case "addMany": {
          const [values, keys, total] = args;
          const m = op === "putMany" ? "put" : "add";
          if (total === undefined || total === values.length) {
            return batch(id, rec, src, values.length, keys === null
              ? (i) => src[m](values[i])
              : (i) => src[m](values[i], keys[i]), true);
          }
          const b = newBatch(id, rec, total, true);
          b.src = src;
          b.m = m;
          batches.set(id, b);
          return storeChunk(b, src, m, values, keys);
        }
        case "getMany":
          return batch(id, rec, src, args[0].length, (i) => src.get(args[0][i]), true);
        case "deleteMany":
          return batch(id, rec, src, args[0].length, (i) => src.delete(toQuery(args[0][i])), false);
        default:
          return ERR + "UnknownError\nunknown shim operation " + op;
      }
    } catch (e) {
      return fail(e);
    }
  },

  /** The next chunk [values, keys] of the chunked putMany/addMany of request `id`. */
  batchMore(id, argsWire) {
    const b = batches.get(id);
    if (b === undefined) return ERR + "InvalidStateError\nthe batch has failed or is complete";
    try {
      const [values, keys] = fromWire(argsWire);
      return storeChunk(b, b.src, b.m, values, keys);
    } catch (e) {
      batches.delete(id);
      try {
        b.rec.tx.abort();
      } catch {
        // already finished
      }
      return fail(e);
    }
  },

  // -- cursors ------------------------------------------------------------------------------
  /** continue / continuePrimaryKey / advance on the cursor of request `id`; "fail": Python
   * reached a page's last record, one it cannot hold, and the IDBCursor stands on it: a request
   * that changes nothing gives the event in which Python's move fails ("x"). */
  cursorMove(id, op, argsWire) {
    const entry = cursors.get(id);
    if (entry === undefined) return ERR + "TransactionInactiveError\nthe transaction has finished";
    const c = entry.cursor || entry.last;
    if (c === null) return ERR + "InvalidStateError\nthe cursor is being iterated";
    try {
      if (op === "fail") {
        const req = c.source.count(IDBKeyRange.only(0));
        req.onsuccess = () => dispatch(id, EVENT.UNSENDABLE, entry.bad);
        req.onerror = (ev) => {
          if (dispatch(id, EVENT.ERROR, errText(req.error))) ev.preventDefault();
        };
        return "";
      }
      const args = fromWire(argsWire);
      if (op === "advance") c.advance(args[0]);
      else if (op === "continuePrimaryKey") c.continuePrimaryKey(args[0], args[1]);
      else if (args.length > 0) c.continue(args[0]);
      else c.continue();
      return "";
    } catch (e) {
      return fail(e);
    }
  },

  cursorUpdate(id, reqId, argsWire) {
    const entry = cursors.get(id);
    if (entry === undefined) return ERR + "TransactionInactiveError\nthe transaction has finished";
    const c = entry.cursor || entry.last;
    if (c === null) return ERR + "InvalidStateError\nthe cursor is being iterated";
    try {
      const args = fromWire(argsWire);
      return track(reqId, c.update(args[0]), plain);
    } catch (e) {
      return fail(e);
    }
  },

  cursorDelete(id, reqId) {
    const entry = cursors.get(id);
    if (entry === undefined) return ERR + "TransactionInactiveError\nthe transaction has finished";
    const c = entry.cursor || entry.last;
    if (c === null) return ERR + "InvalidStateError\nthe cursor is being iterated";
    try {
      return track(reqId, c.delete(), plain);
    } catch (e) {
      return fail(e);
    }
  },
};

return shim;
