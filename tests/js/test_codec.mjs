// js_shim/codec.js: the value wire format in JS, and the same format as pyidb/values.py.
// Run: node --test tests/js/
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import path from "node:path";

import { fromWire, keyFromWire, keyToWire, toWire } from "../../js_shim/codec.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const PYTHON = process.env.PYTHON ?? "python3";

function python(code, input = "") {
  return execFileSync(PYTHON, ["-c", code], {
    cwd: ROOT,
    input,
    env: { ...process.env, PYTHONPATH: ROOT },
    encoding: "utf-8",
  });
}

const bytes = (...xs) => new Uint8Array(xs).buffer;
const rt = (v) => fromWire(toWire(v));

test("plain values pass through plain JSON", () => {
  const v = { a: 1, b: "x", c: [true, null, 1.5], d: { e: [] } };
  assert.equal(toWire(v), JSON.stringify(v));
  assert.deepEqual(rt(v), v);
});

test("special numbers, BigInt, Date and binary round trip", () => {
  const out = rt([NaN, Infinity, -Infinity, 2 ** 60, -(2 ** 70), 5n, -(2n ** 80n), new Date(-1), bytes(0, 255)]);
  assert.ok(Number.isNaN(out[0]));
  assert.deepEqual(out.slice(1, 7), [Infinity, -Infinity, 2 ** 60, -(2 ** 70), 5n, -(2n ** 80n)]);
  assert.ok(out[7] instanceof Date && out[7].getTime() === -1);
  assert.ok(out[8] instanceof ArrayBuffer);
  assert.deepEqual([...new Uint8Array(out[8])], [0, 255]);
});

test("numbers that are not safe integers are tagged so Python keeps them float (as Pyodide's to_py)", () => {
  assert.equal(toWire(2 ** 60), '{"$t":"num","v":"1152921504606847000"}');
  assert.equal(toWire(2 ** 53), '{"$t":"num","v":"9007199254740992"}');
  assert.equal(toWire(2 ** 53 - 1), String(2 ** 53 - 1));
  assert.equal(toWire(-0), "0");
});

test("typed arrays and DataView send exactly the bytes of their view", () => {
  const buf = new Uint8Array([1, 2, 3, 4, 5, 6]).buffer;
  const out = rt({ u16: new Uint16Array(buf, 2, 1), dv: new DataView(buf, 4, 2) });
  assert.deepEqual([...new Uint8Array(out.u16)], [3, 4]);
  assert.deepEqual([...new Uint8Array(out.dv)], [5, 6]);
});

test("large binary values survive base64 in chunks", () => {
  const big = new Uint8Array(200_000).map((_, i) => (i * 7) & 255);
  assert.deepEqual(new Uint8Array(rt(big.buffer)), big);
});

test("an object's own $t key is escaped, also when it looks like a tag", () => {
  const v = { a: { $t: "bytes", v: "AAAA" }, b: [{ $t: { $t: 1 } }], c: { x: 1, $t: 2 } };
  const out = rt(v);
  assert.deepEqual(out, v);
  assert.deepEqual(Object.keys(out.c), ["x", "$t"]);
});

test("a __proto__ key stays an own key and does not change the prototype", () => {
  const v = JSON.parse('{"$t": 1, "__proto__": {"polluted": true}}');
  const out = rt(v);
  assert.ok(Object.hasOwn(out, "__proto__"));
  assert.equal(Object.getPrototypeOf(out), Object.prototype);
  assert.equal({}.polluted, undefined);
});

test("undefined becomes null, also inside objects; wrappers are unwrapped; toJSON is ignored", () => {
  assert.deepEqual(rt({ a: undefined, b: [undefined, , 1] }), { a: null, b: [null, null, 1] }); // eslint-disable-line no-sparse-arrays
  assert.deepEqual(rt([Object(1), Object("s"), Object(true)]), [1, "s", true]);
  assert.deepEqual(rt({ x: 1, toJSON: undefined }), { x: 1, toJSON: null });
  const d = new Date(0);
  d.toJSON = () => "nope";
  assert.equal(rt(d).getTime(), 0);
});

test("what Python cannot hold throws DataCloneError", () => {
  for (const bad of [() => 1, Symbol("s"), new Map(), new Set(), /re/, new Error("e"), new Date(NaN)]) {
    assert.throws(() => toWire({ bad }), (e) => e.name === "DataCloneError" && /cannot be passed to Python/.test(e.message));
  }
});

test("cycles throw DataCloneError; class instances go as their own enumerable fields", () => {
  const a = [1];
  a.push({ a });
  assert.throws(() => toWire(a), (e) => e.name === "DataCloneError");
  class Point {
    constructor() {
      this.x = 1;
      this.y = NaN;
    }
  }
  const out = rt({ p: new Point() });
  assert.equal(out.p.x, 1);
  assert.ok(Number.isNaN(out.p.y));
  assert.equal(Object.getPrototypeOf(out.p), Object.prototype);
});

test("malformed tags throw UnknownError", () => {
  for (const text of [
    '{"$t":"bytes"}',
    '{"$t":"bytes","v":"!"}',
    '{"$t":"date","v":"x"}',
    '{"$t":"num","v":"lots"}',
    '{"$t":"bigint","v":"1.5"}',
    '{"$t":"obj","v":{"a":1}}',
    '{"$t":"what","v":1}',
    '{"$t":"num","v":"NaN","x":1}',
  ]) {
    assert.throws(() => fromWire(text), (e) => e.name === "UnknownError", text);
  }
});

test("lone surrogates survive", () => {
  const s = "a\ud800b\udfff";
  assert.equal(rt({ [s]: s })[s], s);
});

test("keys: valid keys round trip, invalid ones throw DataError", () => {
  const key = [1, "a", new Date(5), bytes(1), [2, [3]], Infinity];
  const out = keyFromWire(keyToWire(key));
  assert.equal(out[2].getTime(), 5);
  assert.deepEqual([...new Uint8Array(out[3])], [1]);
  assert.deepEqual([out[0], out[1], out[4], out[5]], [1, "a", [2, [3]], Infinity]);
  const cyclic = [1];
  cyclic.push(cyclic);
  for (const bad of [NaN, new Date(NaN), {}, null, undefined, true, [1, , 2], cyclic, [{}]]) { // eslint-disable-line no-sparse-arrays
    assert.throws(() => keyToWire(bad), (e) => e.name === "DataError");
  }
});

// --- cross-language: Python -> JS -> Python, and JS -> Python -> JS -------------------------

const PY_SAMPLE = String.raw`
import math, sys
from datetime import datetime
from pyidb.values import clone, dumps, loads

SAMPLE = {
    "none": None, "t": True, "f": False, "i": 42, "neg": -7, "safe": 2**53 - 1, "unsafe": 2**53, "fl53": 2.0**53,
    "big": 2**70, "nbig": -(2**60) - 1, "x": 1.5, "two": 2.0, "nz": -0.0, "huge": 2.0**60,
    "nan": math.nan, "inf": math.inf, "ninf": -math.inf,
    "s": "h\u00e9llo \U0001F600", "lone": "\ud800x", "b": b"\x00\x01\xff", "eb": b"",
    "d": datetime(2024, 5, 6, 7, 8, 9, 123456), "old": datetime(1901, 1, 1),
    "l": [1, [2, (3,)]], "dollar": {"$t": "bytes", "v": "AAAA"}, "dd": {"$t": {"$t": 1}},
    "proto": {"__proto__": 1},
}

def same(a, b):
    if type(a) is not type(b):
        return False
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return a == b
`;

test("Python wire text for every type parses in JS, and JS's re-encoding decodes to the same in Python", () => {
  const wire = python(PY_SAMPLE + "\nprint(dumps(*clone(SAMPLE), ensure_ascii=True))").trim();
  const v = fromWire(wire);
  assert.equal(v.none, null);
  assert.equal(v.t, true);
  assert.equal(v.i, 42);
  assert.equal(v.safe, 2 ** 53 - 1);
  assert.equal(v.unsafe, 2n ** 53n);
  assert.equal(v.fl53, 2 ** 53);
  assert.equal(v.big, 2n ** 70n);
  assert.equal(v.nbig, -(2n ** 60n) - 1n);
  assert.equal(v.x, 1.5);
  assert.equal(v.two, 2);
  assert.ok(Object.is(v.nz, 0));
  assert.equal(v.huge, 2 ** 60);
  assert.ok(Number.isNaN(v.nan));
  assert.equal(v.inf, Infinity);
  assert.equal(v.ninf, -Infinity);
  assert.equal(v.s, "h\u00e9llo \u{1F600}");
  assert.equal(v.lone, "\ud800x");
  assert.deepEqual([...new Uint8Array(v.b)], [0, 1, 255]);
  assert.equal(v.eb.byteLength, 0);
  assert.equal(v.d.toISOString(), "2024-05-06T07:08:09.123Z");
  assert.equal(v.old.toISOString(), "1901-01-01T00:00:00.000Z");
  assert.deepEqual(v.l, [1, [2, [3]]]);
  assert.deepEqual(v.dollar, { $t: "bytes", v: "AAAA" });
  assert.deepEqual(v.dd, { $t: { $t: 1 } });
  assert.ok(Object.hasOwn(v.proto, "__proto__"));

  const back = python(
    PY_SAMPLE + "\ngot = loads(sys.stdin.buffer.read())\nexp = clone(SAMPLE)[0]\nprint('same' if same(got, exp) else repr(got))",
    toWire(v),
  ).trim();
  assert.equal(back, "same");
});

test("JS values read in Python get the documented Python types, and come back to JS unchanged", () => {
  const js = {
    int: 7, float: 1.5, huge: 2 ** 60, edge: 2 ** 53, safe: 2 ** 53 - 1, bigSmall: 5n, big: 2n ** 64n, nan: NaN, date: new Date(86_400_000),
    u16: new Uint16Array([1]), und: undefined, s: "\u{1F600}\ud800", dollar: { $t: "date", v: 0 }, arr: [[], {}],
  };
  const out = JSON.parse(
    python(
      String.raw`
import json, sys
from pyidb.values import clone, dumps, loads
v = loads(sys.stdin.buffer.read())
types = {k: type(x).__name__ for k, x in v.items()}
print(json.dumps({"types": types, "wire": dumps(*clone(v), ensure_ascii=True)}))
`,
      toWire(js),
    ),
  );
  assert.deepEqual(out.types, {
    int: "int", float: "float", huge: "float", edge: "float", safe: "int", bigSmall: "int", big: "int", nan: "float", date: "datetime",
    u16: "bytes", und: "NoneType", s: "str", dollar: "dict", arr: "list",
  });
  const v = fromWire(out.wire);
  assert.equal(v.huge, 2 ** 60);
  assert.equal(v.bigSmall, 5); // a small Python int is a JS number, as Pyodide converts it
  assert.equal(v.big, 2n ** 64n);
  assert.ok(Number.isNaN(v.nan));
  assert.equal(v.date.getTime(), 86_400_000);
  assert.deepEqual([...new Uint8Array(v.u16)], [1, 0]);
  assert.equal(v.und, null);
  assert.equal(v.s, "\u{1F600}\ud800");
  assert.deepEqual(v.dollar, { $t: "date", v: 0 });
  assert.deepEqual(v.arr, [[], {}]);
});
