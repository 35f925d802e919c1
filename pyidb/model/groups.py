"""``group_by``: groups of records with counts and sums/averages/minimums/maximums per group."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .errors import FieldNotFoundError, InvalidValueError
from .schema import Model
from .where import sort_key

__all__ = ["group_rows"]

_NUMERIC = ("Int", "Float", "BigInt")


def _check(model: Model, names: Sequence[str], what: str, numeric: bool) -> None:
    if isinstance(names, str):
        raise InvalidValueError(f"{what} takes a list of field names", model=model.name, value=names)
    for n in names:
        f = model.fields.get(n)
        if f is None or n in model.relations:
            raise FieldNotFoundError(f"{what}: {model.name} has no scalar field {n!r}",
                                     model=model.name, field=n)
        if numeric and f.type not in _NUMERIC:
            raise InvalidValueError(f"{what} needs a number field, {model.name}.{n} is {f.type}",
                                    model=model.name, field=n)


def group_rows(model: Model, rows: list[dict[str, Any]], by: Sequence[str], count: Any,
               aggregates: dict[str, Sequence[str]]) -> list[dict[str, Any]]:
    """``[{**by_values, "_count": {...}, "_sum": {...}, ...}]`` sorted by the ``by`` values."""
    _check(model, by, "group_by by", False)
    if not by:
        raise InvalidValueError("group_by needs at least one field in by", model=model.name)
    for name, fields in aggregates.items():
        _check(model, fields, name, name in ("_sum", "_avg"))
    count_fields: list[str] = []
    if isinstance(count, (list, tuple)):
        _check(model, count, "count", False)
        count_fields = list(count)
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault(tuple(repr(r[b]) for b in by), []).append(r)
    out = []
    for members in groups.values():
        row: dict[str, Any] = {b: members[0][b] for b in by}
        if count is True:
            row["_count"] = {"_all": len(members)}
        elif count_fields:
            row["_count"] = {f: sum(1 for m in members if m[f] is not None) for f in count_fields}
        for name, fields in aggregates.items():
            if not fields:
                continue
            result = {}
            for f in fields:
                values = [m[f] for m in members if m[f] is not None]
                if name == "_sum":
                    result[f] = sum(values) if values else None
                elif name == "_avg":
                    result[f] = sum(values) / len(values) if values else None
                elif name == "_min":
                    result[f] = min(values, key=sort_key) if values else None
                else:
                    result[f] = max(values, key=sort_key) if values else None
            row[name] = result
        out.append(row)
    out.sort(key=lambda r: tuple((0, 0) if r[b] is None else (1, sort_key(r[b])) for b in by))
    return out
