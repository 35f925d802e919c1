"""The query planner: which index key ranges answer a ``where`` + ``order``, and where to stop.

A plan narrows the records read; the full ``where`` is still checked in Python on what was read
(cheap on a narrowed set), so a plan can make a query faster but never change its answer. Chosen
in this order:

1. ``unique``: equalities fix the id or a unique index -> one key;
2. ``walk``: ``order`` (+ ``take``) on an index (or the id) whose leading fields are fixed by
   equalities -> walk it in order, stop after ``skip + take`` matches;
3. ``scan``: the best index range from equalities (leading compound prefixes), ``lt/lte/gt/gte``
   and ``startswith`` (a UTF-16 prefix range) on indexed fields, or an ``in`` list as point ranges;
4. ``union``: an ``OR`` whose every branch has an index range -> the union of those scans;
5. ``full``: the whole store, in id order (still stopping early when that is the order asked).

An index holds no entry for a record whose indexed field is None, so an index is only used when
each of its fields is either constrained by a (non-None) condition or required in the schema.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..key_range import KeyRange
from .schema import Model
from .storage import encode, is_multi_entry, model_indexes
from .where import Node, sort_key

__all__ = ["Plan", "Scan", "plan_query"]

_RANGE_OPS = {"lt", "lte", "gt", "gte", "startswith"}
_MAX_IN = 64


@dataclass
class Scan:
    index: str | None  # None: the object store itself (by id)
    range: KeyRange | None


@dataclass
class Plan:
    kind: str
    scans: list[Scan]
    ordered: bool = False  # the scans yield records in the order asked
    exact: bool = False  # the ranges answer the whole where
    direction: str = "next"
    limit: int | None = None  # stop after this many matches (ordered plans only)
    fields: tuple[str, ...] = field(default_factory=tuple)
    eq_fields: int = 0  # how many leading index fields equalities fix

    def explain(self) -> dict[str, Any]:
        return {"plan": self.kind,
                "index": [s.index or "primary key" for s in self.scans],
                "ranges": [_describe(s.range) for s in self.scans],
                "ordered": self.ordered, "direction": self.direction,
                "stops_after": self.limit, "filter_in_python": not self.exact}


def _describe(r: KeyRange | None) -> str:
    if r is None:
        return "all"
    if r.lower is not None and r.upper is not None and r.lower == r.upper \
            and not r.lower_open and not r.upper_open:
        return f"= {r.lower!r}"
    lo = "" if r.lower is None else f"{'>' if r.lower_open else '>='} {r.lower!r}"
    hi = "" if r.upper is None else f"{'<' if r.upper_open else '<='} {r.upper!r}"
    return " and ".join(x for x in (lo, hi) if x)


def utf16_successor(prefix: str) -> str | None:
    """The smallest string above every string starting with ``prefix`` (UTF-16 order), or None."""
    raw = prefix.encode("utf-16-be", "surrogatepass")
    units = [int.from_bytes(raw[i:i + 2], "big") for i in range(0, len(raw), 2)]
    while units and units[-1] == 0xFFFF:
        units.pop()
    if not units:
        return None
    units[-1] += 1
    return b"".join(u.to_bytes(2, "big") for u in units).decode("utf-16-be", "surrogatepass")


@dataclass
class _Bounds:
    """What the top-level conditions say about one field."""

    eq: Any = None
    has_eq: bool = False
    lo: Any = None
    lo_open: bool = False
    hi: Any = None
    hi_open: bool = False
    ins: list[Any] | None = None
    eq_used: list[Node] = field(default_factory=list)
    range_used: list[Node] = field(default_factory=list)
    in_used: list[Node] = field(default_factory=list)

    def add(self, op: str, value: Any, cond: Node) -> None:
        if op == "equals":
            if not self.has_eq:  # a second, different equality is left to the Python filter
                self.eq, self.has_eq = value, True
                self.eq_used.append(cond)
            return
        if op == "in":
            if self.ins is None:
                self.ins = value
                self.in_used.append(cond)
            return
        self.range_used.append(cond)
        if op in ("gt", "gte"):
            self._lower(value, op == "gt")
        elif op in ("lt", "lte"):
            self._upper(value, op == "lt")
        elif op == "startswith":
            self._lower(value, False)
            succ = utf16_successor(value)
            if succ is not None:
                self._upper(succ, True)

    def _lower(self, v: Any, open_: bool) -> None:
        if self.lo is None or sort_key(v) > sort_key(self.lo) or (v == self.lo and open_):
            self.lo, self.lo_open = v, open_

    def _upper(self, v: Any, open_: bool) -> None:
        if self.hi is None or sort_key(v) < sort_key(self.hi) or (v == self.hi and open_):
            self.hi, self.hi_open = v, open_

    @property
    def ranged(self) -> bool:
        return self.lo is not None or self.hi is not None


def _conjuncts(node: Node) -> list[Node]:
    if node[0] == "and":
        out: list[Node] = []
        for n in node[1]:
            out += _conjuncts(n)
        return out
    return [node]


def _bounds(model: Model, conds: list[Node]) -> dict[str, _Bounds]:
    out: dict[str, _Bounds] = {}
    for c in conds:
        if c[0] != "cond" or c[4]:
            continue
        _, name, op, value, _ins = c
        f = model.fields[name]
        if f.is_list or f.type in ("Json", "BigInt"):
            continue
        if (op == "equals" and value is not None) or op in _RANGE_OPS:
            out.setdefault(name, _Bounds()).add(op, encode(f, value), c)
        elif op == "in" and 0 < len(value) <= _MAX_IN:
            out.setdefault(name, _Bounds()).add(op, [encode(f, v) for v in value], c)
    return out


def _sources(model: Model) -> list[tuple[tuple[str, ...], str | None, bool]]:
    """(fields, index name or None for the store, unique) for the id and every index."""
    cached = model.__dict__.get("_sources")
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    out: list[tuple[tuple[str, ...], str | None, bool]] = [(model.id_fields, None, True)]
    for fields, (name, unique) in model_indexes(model).items():
        if any(model.fields[f].type == "BigInt" for f in fields):
            continue  # a BigInt beyond 2**53 is no key: such records would be missing
        if is_multi_entry(model, fields):
            continue  # keyed by elements, not by the list: see _has_scan
        out.append((fields, name, unique))
    model.__dict__["_sources"] = out
    return out


def _key(fields: tuple[str, ...], parts: list[Any]) -> Any:
    return parts[0] if len(fields) == 1 else list(parts)


def _range_for(model: Model, fields: tuple[str, ...], index: str | None,
               b: dict[str, _Bounds]) -> tuple[int, list[KeyRange | None], list[Node], int] | None:
    """(score, ranges, conditions answered, fixed prefix length) for one source, or None."""
    if fields[0] not in b:
        return None  # nothing constrains the leading field: the index cannot narrow
    eqs: list[Any] = []
    used: list[Node] = []
    for name in fields:
        bound = b.get(name)
        if bound is None or not bound.has_eq:
            break
        eqs.append(bound.eq)
        used += bound.eq_used
    k = len(eqs)
    nxt = b.get(fields[k]) if k < len(fields) else None
    # Records with None in a field of the index are not in it: every field we do not constrain
    # must be required.
    constrained = k + (1 if nxt is not None and (nxt.ranged or nxt.ins) else 0)
    if any(model.fields[f].optional for f in fields[constrained:]) and index is not None:
        return None
    compound = len(fields) > 1
    if k == len(fields):
        return 100, [KeyRange.only(_key(fields, eqs))], used, k
    if nxt is not None and nxt.ins is not None and not nxt.ranged:
        ranges = [_prefix_range(fields, [*eqs, v]) for v in sorted(set(nxt.ins), key=sort_key)]
        return 8 + 10 * k, ranges, used + nxt.in_used, k
    if nxt is not None and nxt.ranged:
        last = k + 1 == len(fields)
        lo: Any = None
        hi: Any = None
        lo_open = nxt.lo_open
        hi_open = nxt.hi_open if last else True
        if nxt.lo is not None:
            lo = [*eqs, nxt.lo] if last or not nxt.lo_open else [*eqs, nxt.lo, []]
        elif compound:
            lo, lo_open = list(eqs), False
        if nxt.hi is not None:
            hi = [*eqs, nxt.hi] if last or nxt.hi_open else [*eqs, nxt.hi, []]
        elif compound:
            hi, hi_open = [*eqs, []], True
        if not compound:
            lo = lo[0] if lo is not None else None
            hi = hi[0] if hi is not None else None
        if lo is not None and hi is not None:
            c = _key_cmp(lo, hi)
            if c > 0 or (c == 0 and (lo_open or hi_open)):
                return None  # an empty range: the full scan (finding nothing) answers
            r = KeyRange.bound(lo, hi, lo_open, hi_open)
        else:
            r = KeyRange.lower_bound(lo, lo_open) if lo is not None else \
                KeyRange.upper_bound(hi, hi_open)
        both = nxt.lo is not None and nxt.hi is not None
        return 10 * k + (5 if both else 2), [r], used + nxt.range_used, k
    if k:
        return 10 * k - 1, [_prefix_range(fields, eqs)], used, k
    return None


def _key_cmp(a: Any, b: Any) -> int:
    from ..keys import cmp

    return cmp(a, b)


def _prefix_range(fields: tuple[str, ...], eqs: list[Any]) -> KeyRange:
    if len(eqs) == len(fields):
        return KeyRange.only(_key(fields, eqs))
    return KeyRange.bound(list(eqs), [*eqs, []], False, True)


def _has_scan(model: Model, conds: list[Node]) -> tuple[int, Scan, list[KeyRange | None],
                                                        list[Node], tuple[str, ...], int] | None:
    """``has`` / ``has_some`` on a list field with a multiEntry index: its element keys."""
    for fields, (name, _unique) in model_indexes(model).items():
        if not is_multi_entry(model, fields):
            continue
        f = model.fields[fields[0]]
        for c in conds:
            if c[0] == "cond" and c[1] == f.name and c[2] in ("has", "has_some"):
                values = [c[3]] if c[2] == "has" else c[3]
                if not 0 < len(values) <= _MAX_IN:
                    continue
                keys = sorted({repr(encode(f, v, element=True)): encode(f, v, element=True)
                               for v in values}.values(), key=sort_key)
                return (11 if len(keys) == 1 else 8, Scan(name, None),
                        [KeyRange.only(k) for k in keys], [c], fields, 1)
    return None


def _best(model: Model, conds: list[Node]) -> tuple[int, Scan, list[KeyRange | None], list[Node],
                                                    tuple[str, ...], int] | None:
    b = _bounds(model, conds)
    best = _has_scan(model, conds)
    for fields, index, unique in _sources(model):
        found = _range_for(model, fields, index, b)
        if found is None:
            continue
        score, ranges, used, k = found
        if score == 100 and not unique:
            score = 10 * k + 1
        if best is None or score > best[0]:
            best = (score, Scan(index, None), ranges, used, fields, k)
    return best


def plan_query(model: Model, node: Node, order: list[tuple[str, bool]], *, take: int | None = None,
               skip: int = 0, early_stop: bool = True) -> Plan:
    """The plan for ``node`` (resolved) ordered by ``order``; see the module docstring."""
    conds = _conjuncts(node)
    limit = skip + abs(take) if take is not None and early_stop else None
    reverse = take is not None and take < 0
    best = _best(model, conds)
    if best is not None and best[0] >= 100:
        _score, scan, ranges, used, fields, _k = best
        return Plan("unique", [Scan(scan.index, ranges[0])], ordered=True,
                    exact=len(used) == len(conds), fields=fields)
    walk = _walk(model, conds, order, reverse)
    if walk is not None and (best is None or best[0] < 10 or walk.exact
                             or walk.eq_fields >= best[5]):
        walk.limit = limit
        return walk
    if best is not None:
        _score, scan, ranges, used, fields, k = best
        exact = len(used) == len(conds) and len(ranges) == 1
        ordered = len(ranges) == 1 and not order and k == len(fields) and not reverse
        return Plan("scan", [Scan(scan.index, r) for r in ranges], ordered=ordered, exact=exact,
                    limit=limit if ordered else None, fields=fields, eq_fields=k)
    union = _union(model, conds)
    if union is not None:
        return union
    ordered = not order and not reverse
    return Plan("full", [Scan(None, None)], ordered=ordered or _id_order(model, order, reverse)[0],
                direction=_id_order(model, order, reverse)[1] if not ordered else "next",
                exact=not conds, limit=limit if ordered or _id_order(model, order, reverse)[0]
                else None, fields=model.id_fields)


def _id_order(model: Model, order: list[tuple[str, bool]], reverse: bool) -> tuple[bool, str]:
    if not order:
        return True, "prev" if reverse else "next"
    dirs = {d for _, d in order}
    if len(dirs) == 1 and tuple(n for n, _ in order) == model.id_fields:
        return True, "prev" if dirs.pop() != reverse else "next"
    return False, "next"


def _walk(model: Model, conds: list[Node], order: list[tuple[str, bool]],
          reverse: bool) -> Plan | None:
    """Walk an index whose fields are (fixed prefix) + the order fields, in the order asked."""
    if not order:
        if not reverse:
            return None
        order = [(f, False) for f in model.id_fields]
    dirs = {d for _, d in order}
    if len(dirs) != 1:
        return None
    desc = dirs.pop() != reverse
    names = tuple(n for n, _ in order)
    b = _bounds(model, conds)
    for fields, index, _unique in _sources(model):
        k = len(fields) - len(names)
        if k < 0 or fields[k:] != names:
            continue
        prefix = fields[:k]
        if not all(n in b and b[n].has_eq for n in prefix):
            continue
        if index is not None and any(model.fields[f].optional for f in names):
            continue
        eqs = [b[n].eq for n in prefix]
        used = [c for n in prefix for c in b[n].eq_used]
        rng: KeyRange | None = _prefix_range(fields, eqs) if prefix else None
        if len(names) == 1 and names[0] in b and b[names[0]].ranged and not b[names[0]].ins:
            sub = {**b}
            found = _range_for(model, fields, index, sub)
            if found is not None:
                rng = found[1][0]
                used = found[2]
        return Plan("walk", [Scan(index, rng)], ordered=True, exact=len(used) == len(conds),
                    direction="prev" if desc else "next", fields=fields, eq_fields=k)
    return None


def _union(model: Model, conds: list[Node]) -> Plan | None:
    ors = [c for c in conds if c[0] == "or"]
    if not ors:
        return None
    scans: list[Scan] = []
    for branch in ors[0][1]:
        best = _best(model, _conjuncts(branch))
        if best is None:
            return None
        scans += [Scan(best[1].index, r) for r in best[2]]
    return Plan("union", scans, fields=model.id_fields)
