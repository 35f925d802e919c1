// pyidb's value wire format in JavaScript: the twin of pyidb/values.py (read its docstring for the
// full mapping table). JSON text; values JSON cannot carry are tag objects {"$t": TYPE, "v": ...}:
//   bytes  -> v: base64 text                 (ArrayBuffer; typed arrays and DataView send their view)
//   date   -> v: ms since the epoch          (Date)
//   num    -> v: "NaN" | "Infinity" | "-Infinity", or the decimal text of a finite number that is
//             not a safe integer (Python's json would read "9007199254740992" as an int; Pyodide's
//             own to_py gives a float there, and so does this tag)
//   bigint -> v: decimal text                (BigInt; Python int)
//   obj    -> v: [[key, value], ...]         (an object that has its own "$t" key; pairs, because
//             JSON.parse revives bottom-up and would see the inner object before the tag)
// Usage:
//   const text = toWire({when: new Date(), raw: new Uint8Array([1, 2])});
//   fromWire(text)   // {when: Date, raw: ArrayBuffer}
// No dependencies; runs in browsers and Node >= 18.

const SAFE = Number.MAX_SAFE_INTEGER; // 2**53 - 1: where Pyodide switches int <-> BigInt/float

function domError(name, message) {
  // DOMException where it exists (browsers, Node >= 17) so `.name` matches what IndexedDB throws.
  if (typeof DOMException === "function") return new DOMException(message, name);
  const e = new Error(message);
  e.name = name;
  return e;
}

function bytesToBase64(u8) {
  let bin = "";
  // String.fromCharCode.apply on a bounded chunk: no per-byte string concatenation, no stack blowup
  for (let i = 0; i < u8.length; i += 0x8000) {
    bin += String.fromCharCode.apply(null, u8.subarray(i, i + 0x8000));
  }
  return btoa(bin);
}

function base64ToBuffer(text) {
  const bin = atob(text);
  const u8 = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) u8[i] = bin.charCodeAt(i);
  return u8.buffer;
}

function numberTag(v) {
  if (Number.isNaN(v)) return { $t: "num", v: "NaN" };
  if (v === Infinity) return { $t: "num", v: "Infinity" };
  if (v === -Infinity) return { $t: "num", v: "-Infinity" };
  return { $t: "num", v: String(v) };
}

function typeName(v) {
  if (v === null) return "null";
  if (typeof v !== "object") return typeof v;
  const proto = Object.getPrototypeOf(v);
  return proto && proto.constructor && proto.constructor.name ? proto.constructor.name : "object";
}

// Objects structured clone would keep but Python cannot hold as plain data.
const REFUSED = [
  typeof Map === "function" ? Map : null,
  typeof Set === "function" ? Set : null,
  typeof RegExp === "function" ? RegExp : null,
  typeof Error === "function" ? Error : null,
  typeof Blob === "function" ? Blob : null,
].filter(Boolean);

// JSON.stringify replacer: `this[key]` is the original value (before Date#toJSON & co).
function replacer(key, _val) {
  const v = this[key];
  switch (typeof v) {
    case "string":
    case "boolean":
      return v;
    case "number":
      return Number.isFinite(v) && v <= SAFE && v >= -SAFE ? v : numberTag(v);
    case "bigint":
      return { $t: "bigint", v: v.toString() };
    case "undefined":
      return null; // Python has no undefined: None, in objects too (JSON would drop the key)
    case "object":
      break;
    default:
      throw domError("DataCloneError", `a ${typeof v} cannot be passed to Python`);
  }
  if (v === null || Array.isArray(v)) return v;
  if (v instanceof Date) {
    const ms = v.getTime();
    if (Number.isNaN(ms)) throw domError("DataCloneError", "an invalid Date cannot be passed to Python");
    return { $t: "date", v: ms };
  }
  if (v instanceof ArrayBuffer) return { $t: "bytes", v: bytesToBase64(new Uint8Array(v)) };
  if (ArrayBuffer.isView(v)) {
    return { $t: "bytes", v: bytesToBase64(new Uint8Array(v.buffer, v.byteOffset, v.byteLength)) };
  }
  if (v instanceof Number || v instanceof String || v instanceof Boolean || v instanceof BigInt) {
    return replacer.call({ "": v.valueOf() }, "");
  }
  for (const cls of REFUSED) {
    if (v instanceof cls) {
      throw domError("DataCloneError", `a ${typeName(v)} cannot be passed to Python; use plain objects and arrays`);
    }
  }
  if (Object.hasOwn(v, "$t")) return { $t: "obj", v: Object.entries(v) };
  return v;
}

// Fast-path check: true when plain JSON.stringify already writes the wire text (no value needs a
// tag, no undefined to turn into null, no toJSON to ignore, only plain objects).
function isPlain(v) {
  switch (typeof v) {
    case "string":
    case "boolean":
      return true;
    case "number":
      return v <= SAFE && v >= -SAFE; // false for NaN
    case "object": {
      if (v === null) return true;
      if (Array.isArray(v)) {
        for (let i = 0; i < v.length; i++) if (!isPlain(v[i])) return false; // a hole reads undefined
        return true;
      }
      const proto = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) return false;
      for (const k in v) if (k === "$t" || k === "toJSON" || !isPlain(v[k])) return false;
      return true;
    }
    default:
      return false;
  }
}

/** JS value -> wire text. Throws a DataCloneError for what Python cannot hold (cycles too). */
export function toWire(value) {
  try {
    return isPlain(value) ? JSON.stringify(value) : JSON.stringify(value, replacer);
  } catch (e) {
    if (e instanceof RangeError || (e instanceof TypeError && /circular/i.test(e.message))) {
      throw domError("DataCloneError", `a value that contains itself or is nested too deeply cannot be passed to Python (${e.message})`);
    }
    throw e;
  }
}

function malformed(o) {
  return domError("UnknownError", `malformed pyidb tag ${JSON.stringify(o).slice(0, 200)}`);
}

function reviver(_key, o) {
  if (o === null || typeof o !== "object" || Array.isArray(o) || !Object.hasOwn(o, "$t")) return o;
  const t = o.$t;
  const v = o.v;
  if (Object.keys(o).length !== 2 || !Object.hasOwn(o, "v")) throw malformed(o);
  switch (t) {
    case "bytes":
      if (typeof v === "string") {
        try {
          return base64ToBuffer(v);
        } catch {
          throw malformed(o);
        }
      }
      break;
    case "date":
      if (typeof v === "number" && Number.isFinite(v)) return new Date(v);
      break;
    case "num":
      if (typeof v === "string") {
        const n = Number(v); // "NaN", "Infinity", "-Infinity" and decimal text
        if (!Number.isNaN(n) || v === "NaN") return n;
      }
      break;
    case "bigint":
      if (typeof v === "string" && /^-?[0-9]+$/.test(v)) return BigInt(v);
      break;
    case "obj":
      if (Array.isArray(v) && v.every((p) => Array.isArray(p) && p.length === 2 && typeof p[0] === "string")) {
        return Object.fromEntries(v); // defines own properties: a "__proto__" key stays a key
      }
      break;
  }
  throw malformed(o);
}

/** Wire text -> JS value (fresh). Only texts that contain a tag pay for the reviver. */
export function fromWire(text) {
  return text.includes('"$t"') ? JSON.parse(text, reviver) : JSON.parse(text);
}

function checkKey(key, seen) {
  switch (typeof key) {
    case "number":
      if (!Number.isNaN(key)) return;
      throw domError("DataError", "NaN is not a valid key");
    case "string":
      return;
    case "object":
      if (key instanceof Date) {
        if (Number.isNaN(key.getTime())) throw domError("DataError", "an invalid Date is not a valid key");
        return;
      }
      if (key instanceof ArrayBuffer || ArrayBuffer.isView(key)) return;
      if (Array.isArray(key)) {
        if (seen.has(key)) throw domError("DataError", "an array key cannot contain itself");
        seen.add(key);
        for (let i = 0; i < key.length; i++) {
          if (!(i in key)) throw domError("DataError", `an array key has a hole at index ${i}`);
          checkKey(key[i], seen);
        }
        seen.delete(key);
        return;
      }
  }
  throw domError("DataError", `a ${typeName(key)} is not a valid key (use a number, string, Date, binary or array of those)`);
}

/** Key -> wire text (the same format as values). Throws a DataError for an invalid key. */
export function keyToWire(key) {
  checkKey(key, new Set());
  return toWire(key);
}

/** Wire text -> key. */
export function keyFromWire(text) {
  return fromWire(text);
}
