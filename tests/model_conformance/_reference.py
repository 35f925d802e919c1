"""Random records and queries, and a plain-Python evaluation of them written independently of
pyidb.model, to check that the query planner never changes an answer."""

from __future__ import annotations

import random
from typing import Any

ITEMS = """
model Item {
  id   Int      @id
  a    Int
  b    Int?
  s    String
  t    String?
  flag Boolean
  x    Float
  tags String[]
  @@index([tags])
  @@index([a])
  @@index([a, s])
  @@index([s])
  @@index([flag, a])
  @@index([b])
  @@unique([t])
  @@index([s, a, flag])
}
"""
STRINGS = ["", "a", "ab", "abc", "b", "ba", "é", "\U0001f600", "\ufb01", "a\uffff", "Ab"]
INTS = [-2, 0, 1, 2, 3, 5]
TAGS = ["red", "green", "blue", "b\U0001f600"]
FIELDS = {"id": "int", "a": "int", "b": "int?", "s": "str", "t": "str?", "flag": "bool",
          "x": "float"}


def records(rng: random.Random, n: int) -> list[dict[str, Any]]:
    out = []
    ts = rng.sample(STRINGS, k=min(len(STRINGS), n))
    for i in range(n):
        out.append({"id": i * 3 - 7, "a": rng.choice(INTS),
                    "b": rng.choice([None, *INTS]), "s": rng.choice(STRINGS),
                    "t": ts[i] if i < len(ts) and rng.random() < 0.7 else None,
                    "flag": rng.random() < 0.5, "x": rng.choice([-1.5, 0.0, 0.25, 2.0, 3.5]),
                    "tags": rng.sample(TAGS, k=rng.randint(0, 3))})
    return out


def _value(rng: random.Random, kind: str) -> Any:
    if kind.startswith("int"):
        return rng.choice([*INTS, 4, -7, 11])
    if kind.startswith("str"):
        return rng.choice(STRINGS)
    if kind == "float":
        return rng.choice([-1.5, 0.0, 0.25, 1, 2.0, 3.5])
    return rng.random() < 0.5


def _condition(rng: random.Random) -> dict[str, Any]:
    if rng.random() < 0.15:
        op = rng.choice(["has", "has", "has_some", "has_every", "is_empty"])
        if op == "has":
            return {"tags": {op: rng.choice(TAGS)}}
        if op == "is_empty":
            return {"tags": {op: rng.random() < 0.5}}
        return {"tags": {op: rng.sample(TAGS, k=rng.randint(0, 2))}}
    name = rng.choice(list(FIELDS))
    kind = FIELDS[name]
    ops = ["equals", "not", "in", "not_in", "lt", "lte", "gt", "gte"] if kind != "bool" else \
        ["equals", "not"]
    if kind.startswith("str"):
        ops += ["startswith", "startswith", "contains", "endswith"]
    op = rng.choice(ops)
    if kind.endswith("?") and op in ("equals", "not") and rng.random() < 0.25:
        return {name: {op: None}}
    if op in ("in", "not_in"):
        return {name: {op: [_value(rng, kind) for _ in range(rng.randint(0, 3))]}}
    if op == "equals" and rng.random() < 0.5:
        return {name: _value(rng, kind)}
    return {name: {op: _value(rng, kind)}}


def where(rng: random.Random, depth: int = 0) -> dict[str, Any] | None:
    r = rng.random()
    if r < 0.1 and depth == 0:
        return None
    if r < 0.25 and depth < 2:
        return {"OR": [where(rng, depth + 1) or {} for _ in range(rng.randint(1, 3))]}
    if r < 0.3 and depth < 2:
        return {"NOT": where(rng, depth + 1) or {}}
    out: dict[str, Any] = {}
    for _ in range(rng.randint(1, 3)):
        cond = _condition(rng)
        name = next(iter(cond))
        if name in out:
            out.setdefault("AND", []).append(cond)
        else:
            out.update(cond)
    return out


def query(rng: random.Random) -> dict[str, Any]:
    q: dict[str, Any] = {"where": where(rng)}
    if rng.random() < 0.7:
        names = rng.sample(["a", "b", "s", "t", "flag", "x", "id"], k=rng.randint(1, 2))
        same = rng.choice(["asc", "desc"])
        q["order"] = [{n: same if rng.random() < 0.7 else rng.choice(["asc", "desc"])}
                      for n in names]
    if rng.random() < 0.7:
        q["take"] = rng.randint(-6, 6)
    if rng.random() < 0.4:
        q["skip"] = rng.randint(0, 4)
    return q


# -- the reference evaluation ----------------------------------------------------------------
def _units(v: Any) -> Any:
    return v.encode("utf-16-be", "surrogatepass") if isinstance(v, str) else v


def _test(have: Any, op: str, want: Any) -> bool:
    if op == "equals":
        return have == want if have is not None and want is not None else have is want
    if have is None:
        return False
    if op == "not":
        return want is None or have != want
    if op == "in":
        return have in want
    if op == "not_in":
        return have not in want
    if op == "startswith":
        return have.startswith(want)
    if op == "endswith":
        return have.endswith(want)
    if op == "contains":
        return want in have
    if op == "has":
        return want in have
    if op == "has_some":
        return any(w in have for w in want)
    if op == "has_every":
        return all(w in have for w in want)
    if op == "is_empty":
        return (len(have) == 0) == want
    a, b = _units(have), _units(want)
    return {"lt": a < b, "lte": a <= b, "gt": a > b, "gte": a >= b}[op]


def evaluate(w: dict[str, Any] | None, r: dict[str, Any]) -> bool:
    for key, spec in (w or {}).items():
        if key == "AND":
            ok = all(evaluate(s, r) for s in spec)
        elif key == "OR":
            ok = any(evaluate(s, r) for s in spec)
        elif key == "NOT":
            ok = not evaluate(spec, r)
        elif isinstance(spec, dict):
            ok = all(_test(r[key], op, v) for op, v in spec.items())
        else:
            ok = _test(r[key], "equals", spec)
        if not ok:
            return False
    return True


def answer(rows: list[dict[str, Any]], q: dict[str, Any]) -> list[dict[str, Any]]:
    out = [r for r in rows if evaluate(q.get("where"), r)]
    order = [(n, d == "desc") for item in q.get("order") or [] for n, d in item.items()]
    last_desc = order[-1][1] if order else False
    out.sort(key=lambda r: r["id"], reverse=last_desc)
    for name, desc in reversed(order):
        out.sort(key=lambda r, n=name: (0, 0) if r[n] is None else (1, _units(r[n])), reverse=desc)
    skip, take = q.get("skip", 0), q.get("take")
    if take is None:
        return out[skip:]
    if take >= 0:
        return out[skip:skip + take]
    end = max(0, len(out) - skip)
    return out[max(0, end + take):end]
