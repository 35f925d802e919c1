"""``where`` and ``order`` arguments: checked, turned into a small tree, and evaluated in Python.

The tree (tuples, cheap to walk): ``("cond", field, op, value, insensitive)``, ``("and", [...])``,
``("or", [...])``, ``("not", node)``, ``("rel", relation_field, kind, node | None)`` and, once the
client resolved a relation filter against the related records, ``("keys", fields, keyset)``.
Comparison follows SQL as Prisma does: a None field matches only ``equals: None`` / ``not: <not
None>``... precisely: every operator but ``equals None`` is false on None. Strings compare by UTF-16
code units, as IndexedDB keys do, so a filter in Python agrees with an index range.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .errors import FieldNotFoundError, InvalidValueError
from .schema import Field, Model, Schema
from .storage import check_value

__all__ = ["matches", "parse_order", "parse_where", "sort_key", "sort_records", "unique_criterion"]

Node = tuple[Any, ...]
TRUE: Node = ("and", [])
_SCALAR_OPS = {"equals", "not", "in", "not_in", "lt", "lte", "gt", "gte", "contains", "startswith",
               "endswith", "mode"}
_LIST_OPS = {"equals", "has", "has_every", "has_some", "is_empty"}
_STRING_OPS = {"contains", "startswith", "endswith"}


def sort_key(value: Any) -> Any:
    """A Python sort key that orders values as IndexedDB orders keys (strings by UTF-16 units)."""
    if isinstance(value, str):
        return value.encode("utf-16-be", "surrogatepass")
    if isinstance(value, bool):
        return int(value)
    return value


def _fold(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _field(schema: Schema, model: Model, name: str) -> Field:
    f = model.fields.get(name)
    if f is None:
        raise FieldNotFoundError(
            f"{model.name} has no field {name!r} (fields: {', '.join(model.fields)})",
            model=model.name, field=name)
    return f


def _value(schema: Schema, model: Model, f: Field, value: Any, *, element: bool = False) -> Any:
    return check_value(schema, model.name, f, value, element=element)


def _scalar(schema: Schema, model: Model, f: Field, spec: Any) -> Node:
    if not isinstance(spec, dict) or (f.type == "Json" and "equals" not in spec and "not" not in spec):
        if f.is_list and spec is not None and not isinstance(spec, (list, tuple)):
            raise InvalidValueError(f"{model.name}.{f.name} is a list: filter it with has, "
                                    "has_some, has_every, is_empty or equals [...]",
                                    model=model.name, field=f.name, value=spec)
        return ("cond", f.name, "equals", _value(schema, model, f, spec), False)
    ops = _LIST_OPS if f.is_list else _SCALAR_OPS
    unknown = set(spec) - ops
    if unknown:
        op = sorted(unknown)[0]
        raise FieldNotFoundError(f"unknown operator {op!r} on {model.name}.{f.name} "
                                 f"(operators: {', '.join(sorted(ops))})",
                                 model=model.name, field=f.name, value=op)
    mode = spec.get("mode", "default")
    if mode not in ("default", "insensitive"):
        raise InvalidValueError(f"mode must be 'default' or 'insensitive', not {mode!r}",
                                model=model.name, field=f.name, value=mode)
    insensitive = mode == "insensitive"
    if insensitive and f.type != "String":
        raise InvalidValueError(f"mode='insensitive' needs a String field, {model.name}.{f.name} "
                                f"is {f.type}", model=model.name, field=f.name, value=mode)
    parts: list[Node] = []
    for op, v in spec.items():
        if op == "mode":
            continue
        if op == "not" and isinstance(v, dict) and f.type != "Json":
            parts.append(("not", _scalar(schema, model, f, {**v, **({"mode": mode} if insensitive
                                                                    else {})})))
        elif op in ("in", "not_in", "has_every", "has_some"):
            if not isinstance(v, (list, tuple)):
                raise InvalidValueError(f"{op} on {model.name}.{f.name} takes a list",
                                        model=model.name, field=f.name, value=v)
            parts.append(("cond", f.name, op, [_value(schema, model, f, x, element=True)
                                                for x in v], insensitive))
        elif op == "is_empty":
            if not isinstance(v, bool):
                raise InvalidValueError(f"is_empty on {model.name}.{f.name} takes a bool",
                                        model=model.name, field=f.name, value=v)
            parts.append(("cond", f.name, op, v, False))
        elif op == "has":
            parts.append(("cond", f.name, op, _value(schema, model, f, v, element=True), False))
        else:
            if op in _STRING_OPS and f.type != "String":
                raise InvalidValueError(f"{op} needs a String field, {model.name}.{f.name} is "
                                        f"{f.type}", model=model.name, field=f.name, value=v)
            element = op not in ("equals", "not")
            if element and v is None:
                raise InvalidValueError(f"{op} on {model.name}.{f.name} cannot compare with None",
                                        model=model.name, field=f.name, value=v)
            checked = _value(schema, model, f, v) if not element else \
                _value(schema, model, f, v, element=True)
            parts.append(("cond", f.name, op, checked, insensitive))
    return parts[0] if len(parts) == 1 else ("and", parts)


def parse_where(schema: Schema, model: Model, where: Any) -> Node:
    """The tree of a ``where`` dict (FieldNotFoundError / InvalidValueError before any request)."""
    if where is None:
        return TRUE
    if not isinstance(where, dict):
        raise InvalidValueError(f"where on {model.name} must be a dict, not {type(where).__name__}",
                                model=model.name, value=where)
    parts: list[Node] = []
    for key, spec in where.items():
        if key in ("AND", "OR", "NOT"):
            items = spec if isinstance(spec, (list, tuple)) else [spec]
            subs = [parse_where(schema, model, s) for s in items]
            if key == "AND":
                parts.append(("and", subs))
            elif key == "OR":
                parts.append(("or", subs))
            else:
                parts.append(("and", [("not", s) for s in subs]))
            continue
        group = _compound(model, key)
        if group is not None:
            if not isinstance(spec, dict) or set(spec) != set(group):
                raise InvalidValueError(f"{model.name}.{key} takes {{{', '.join(group)}}}",
                                        model=model.name, field=key, value=spec)
            parts += [("cond", n, "equals", _value(schema, model, model.fields[n], spec[n]), False)
                      for n in group]
            continue
        f = _field(schema, model, key)
        rel = model.relations.get(key)
        if rel is None:
            parts.append(_scalar(schema, model, f, spec))
            continue
        target = schema.models[rel.target]
        if rel.to_many:
            if not isinstance(spec, dict) or not spec or set(spec) - {"some", "every", "none"}:
                raise FieldNotFoundError(f"filter the list relation {model.name}.{key} with some, "
                                         "every or none", model=model.name, field=key, value=spec)
            parts += [("rel", key, kind, parse_where(schema, target, sub))
                      for kind, sub in spec.items()]
        else:
            if spec is None:
                parts.append(("rel", key, "is", None))
            elif isinstance(spec, dict) and spec and set(spec) <= {"is", "is_not"}:
                parts += [("rel", key, kind, None if sub is None else
                           parse_where(schema, target, sub)) for kind, sub in spec.items()]
            else:
                parts.append(("rel", key, "is", parse_where(schema, target, spec)))
    return parts[0] if len(parts) == 1 else ("and", parts)


def _compound(model: Model, key: str) -> tuple[str, ...] | None:
    if key in model.fields:
        return None
    for group in model.unique_sets():
        if len(group) > 1 and model.compound_key(group) == key:
            return group
    return None


def unique_criterion(model: Model, node: Node) -> tuple[tuple[str, ...], tuple[Any, ...]] | None:
    """The first id/unique field set fully fixed by top-level equalities in ``node``, with values."""
    conds = node[1] if node[0] == "and" else [node]
    eq = {c[1]: c[3] for c in conds if c[0] == "cond" and c[2] == "equals" and not c[4]
          and c[3] is not None}
    for group in model.unique_sets():
        if all(n in eq for n in group):
            return group, tuple(eq[n] for n in group)
    return None


def _compare(op: str, have: Any, want: Any) -> bool:
    a, b = sort_key(have), sort_key(want)
    if op == "lt":
        return a < b
    if op == "lte":
        return a <= b
    if op == "gt":
        return a > b
    return a >= b


def _cond(record: dict[str, Any], field: str, op: str, want: Any, insensitive: bool) -> bool:
    have = record.get(field)
    if op == "equals":
        if have is None or want is None:
            return have is None and want is None
        return _fold(have) == _fold(want) if insensitive else have == want
    if op == "is_empty":
        return have is not None and (len(have) == 0) == want
    if have is None:
        return False
    if insensitive:
        have = _fold(have)
        want = [_fold(w) for w in want] if isinstance(want, list) and op in ("in", "not_in") \
            else _fold(want)
    if op == "not":
        return want is not None and have != want if want is not None else True
    if op == "in":
        return have in want
    if op == "not_in":
        return have not in want
    if op == "contains":
        return want in have
    if op == "startswith":
        return have.startswith(want)
    if op == "endswith":
        return have.endswith(want)
    if op == "has":
        return want in have
    if op == "has_every":
        return all(w in have for w in want)
    if op == "has_some":
        return any(w in have for w in want)
    return _compare(op, have, want)


def matches(node: Node, record: dict[str, Any]) -> bool:
    """Does the (decoded) record satisfy the tree? Relation filters must be resolved first."""
    kind = node[0]
    if kind == "cond":
        return _cond(record, node[1], node[2], node[3], node[4])
    if kind == "and":
        return all(matches(n, record) for n in node[1])
    if kind == "or":
        return any(matches(n, record) for n in node[1])
    if kind == "not":
        return not matches(node[1], record)
    if kind == "keys":
        fields, keyset, negate = node[1], node[2], node[3]
        values = tuple(record.get(f) for f in fields)
        found = None not in values and values in keyset
        return found != negate
    raise AssertionError(f"unresolved filter node {kind}")


def parse_order(model: Model, order: Any) -> list[tuple[str, bool]]:
    """``{"f": "asc"}`` or a list of them -> [(field, descending), ...]."""
    if order is None:
        return []
    items = order if isinstance(order, (list, tuple)) else [order]
    out: list[tuple[str, bool]] = []
    for item in items:
        if not isinstance(item, dict):
            raise InvalidValueError(f"order on {model.name} takes {{field: 'asc'|'desc'}} or a list "
                                    "of them", model=model.name, value=order)
        for name, direction in item.items():
            f = model.fields.get(name)
            if f is None or name in model.relations:
                raise FieldNotFoundError(f"cannot order {model.name} by {name!r}: not a scalar field",
                                         model=model.name, field=name)
            if direction not in ("asc", "desc"):
                raise InvalidValueError(f"order direction for {model.name}.{name} must be 'asc' or "
                                        f"'desc', not {direction!r}", model=model.name, field=name,
                                        value=direction)
            out.append((name, direction == "desc"))
    return out


def _null_first_key(value: Any) -> tuple[int, Any]:
    return (0, 0) if value is None else (1, sort_key(value))


def sort_records(records: Iterable[dict[str, Any]], order: list[tuple[str, bool]],
                 id_fields: tuple[str, ...]) -> list[dict[str, Any]]:
    """Sorted by ``order`` (None first ascending, last descending), ties by the id in the last
    order's direction: exactly the order an index walk gives (``prev`` walks ties backwards)."""
    out = list(records)
    last_desc = order[-1][1] if order else False
    out.sort(key=lambda r: tuple(sort_key(r[f]) for f in id_fields), reverse=last_desc)
    for name, desc in reversed(order):
        out.sort(key=lambda r, n=name: _null_first_key(r.get(n)), reverse=desc)
    return out
