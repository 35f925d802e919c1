"""How a schema maps onto IndexedDB: store and index names, and field values in and out.

* one object store per model, named as the model, keyed by its id field(s);
* an index per ``@unique``/``@@unique`` (unique), per ``@@index`` and per relation scalar, named
  ``"unique(a,b)"`` / ``"index(a,b)"`` after the fields in it;
* a join store ``_AToB`` (``{"A": key, "B": key}``, keyed by both) per implicit many-to-many;
* ``_history_<Model>`` for models with ``@@history``; ``_pyidb_model`` holds the schema itself.

Values: ``Boolean`` is stored as 1/0 (IndexedDB cannot index booleans); ``DateTime`` as an aware
UTC datetime truncated to milliseconds (what IndexedDB keeps); the rest as given.
"""

from __future__ import annotations

import datetime
import enum
import math
from typing import Any

from .errors import InvalidValueError
from .schema import Field, Model, Schema

__all__ = ["META_STORE", "check_value", "decode", "encode", "history_store", "index_name",
           "is_multi_entry", "layout", "model_indexes"]

META_STORE = "_pyidb_model"
_MAX_SAFE = 2**53
_FAST: dict[str, type] = {"String": str, "Int": int, "Boolean": bool, "BigInt": int}


def index_name(fields: tuple[str, ...], unique: bool) -> str:
    return f"{'unique' if unique else 'index'}({','.join(fields)})"


def history_store(model: str) -> str:
    return f"_history_{model}"


def key_path(fields: tuple[str, ...]) -> str | list[str]:
    return fields[0] if len(fields) == 1 else list(fields)


def model_indexes(model: Model) -> dict[tuple[str, ...], tuple[str, bool]]:
    """``{fields: (index name, unique)}`` for every index of the model's store."""
    cached = model.__dict__.get("_indexes")
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    out: dict[tuple[str, ...], tuple[str, bool]] = {}
    for group in model.uniques:
        out.setdefault(group, (index_name(group, True), True))
    groups = list(model.indexes)
    groups += [r.fields for r in model.relations.values() if r.kind == "owner"]
    for group in groups:
        out.setdefault(group, (index_name(group, False), False))
    model.__dict__["_indexes"] = out
    return out


def is_multi_entry(model: Model, fields: tuple[str, ...]) -> bool:
    """An index on one list field holds one entry per element (IndexedDB's multiEntry)."""
    return len(fields) == 1 and model.fields[fields[0]].is_list


def layout(schema: Schema, plugin_stores: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """Every store the client needs: ``{name: {"key_path", "auto_increment", "indexes": {...}}}``."""
    stores: dict[str, Any] = {}
    for model in schema.models.values():
        stores[model.name] = {
            "key_path": key_path(model.id_fields), "auto_increment": model.autoincrement,
            "indexes": {name: {"key_path": key_path(fields), "unique": unique,
                               "multi_entry": is_multi_entry(model, fields)}
                        for fields, (name, unique) in model_indexes(model).items()}}
        for rel in model.relations.values():
            if rel.kind == "many" and rel.join_store:
                stores[rel.join_store] = {"key_path": ["A", "B"], "auto_increment": False, "indexes": {
                    "index(B)": {"key_path": "B", "unique": False, "multi_entry": False}}}
        if model.history:
            stores[history_store(model.name)] = {
                "key_path": ["key", "version"], "auto_increment": False,
                "indexes": {"index(version)": {"key_path": "version", "unique": False,
                                               "multi_entry": False}}}
    stores[META_STORE] = {"key_path": None, "auto_increment": False, "indexes": {}}
    for name, spec in (plugin_stores or {}).items():
        stores[name] = {"key_path": spec.get("key_path"),
                        "auto_increment": bool(spec.get("auto_increment", False)),
                        "indexes": {k: {"key_path": v["key_path"], "unique": bool(v.get("unique")),
                                        "multi_entry": bool(v.get("multi_entry"))}
                                    for k, v in spec.get("indexes", {}).items()}}
    return stores


def _bad(model: str, f: Field, value: Any, expected: str) -> InvalidValueError:
    return InvalidValueError(
        f"{model}.{f.name} must be {expected}, not {type(value).__name__} {value!r}",
        model=model, field=f.name, value=value)


def _datetime(model: str, f: Field, value: Any) -> datetime.datetime:
    if isinstance(value, str):
        try:
            value = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise _bad(model, f, value, "a datetime or an ISO 8601 string") from None
    if not isinstance(value, datetime.datetime):
        raise _bad(model, f, value, "a datetime")
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.UTC)
    value = value.astimezone(datetime.UTC)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def check_value(schema: Schema, model: str, f: Field, value: Any, *, element: bool = False) -> Any:
    """``value`` checked against ``f``'s type and normalised (user form, not stored form)."""
    fast = _FAST.get(f.type)
    if fast is not None and type(value) is fast and (element or not f.is_list) \
            and (fast is not int or -_MAX_SAFE < value < _MAX_SAFE):
        return value  # the common case, checked without the branches below
    if value is None:
        if f.optional and not element:
            return None
        raise InvalidValueError(f"{model}.{f.name} cannot be None", model=model, field=f.name,
                                value=None)
    if f.is_list and not element:
        if not isinstance(value, (list, tuple)):
            raise _bad(model, f, value, f"a list of {f.type}")
        return [check_value(schema, model, f, v, element=True) for v in value]
    t = f.type
    if isinstance(value, enum.Enum) and t in schema.enums:
        value = value.value
    if t == "String":
        if not isinstance(value, str):
            raise _bad(model, f, value, "a str")
    elif t in ("Int", "BigInt"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise _bad(model, f, value, "an int")
        if t == "Int" and abs(value) >= _MAX_SAFE:
            raise _bad(model, f, value, "an int within ±2**53 (use BigInt)")
    elif t == "Float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _bad(model, f, value, "a float")
        value = float(value)
        if math.isnan(value):
            raise _bad(model, f, value, "a number (not NaN)")
    elif t == "Boolean":
        if not isinstance(value, bool):
            raise _bad(model, f, value, "a bool")
    elif t == "DateTime":
        value = _datetime(model, f, value)
    elif t == "Bytes":
        if not isinstance(value, (bytes, bytearray, memoryview)):
            raise _bad(model, f, value, "bytes")
        value = bytes(value)
    elif t in schema.enums:
        if value not in schema.enums[t]:
            raise _bad(model, f, value, f"one of {', '.join(schema.enums[t])} (enum {t})")
    elif t == "Json":
        _check_json(model, f, value)
    return value


def _check_json(model: str, f: Field, value: Any) -> None:
    if value is None or isinstance(value, (bool, int, float, str)):
        return
    if isinstance(value, (list, tuple)):
        for v in value:
            _check_json(model, f, v)
        return
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        for v in value.values():
            _check_json(model, f, v)
        return
    raise _bad(model, f, value, "JSON data (dict with str keys, list, str, number, bool, None)")


def encode(f: Field, value: Any, *, element: bool = False) -> Any:
    """A checked user value (or one ``element`` of a list field) -> what is stored (and what
    index key ranges are built from)."""
    if value is None:
        return None
    if f.type == "Boolean":
        return [int(v) for v in value] if f.is_list and not element else int(value)
    return value


def decode(model: Model, stored: dict[str, Any]) -> dict[str, Any]:
    """A stored record -> the record a user gets back (every scalar field, None when absent)."""
    names, fixes = _decoder(model)
    if len(stored) == len(names):  # the usual case: a fresh copy holding exactly the fields
        out = stored
    else:  # written before a field was added, or by hand
        get = stored.get
        out = {n: get(n) for n in names}
    for name, convert in fixes:
        v = out[name]
        if v is not None:
            out[name] = convert(v)
    return out


def _bools(v: list[Any]) -> list[bool]:
    return [bool(x) for x in v]


def _floats(v: list[Any]) -> list[float]:
    return [float(x) for x in v]


def _decoder(model: Model) -> tuple[list[str], list[tuple[str, Any]]]:
    """(field names, [(name, converter)]) of a model, computed once (decode runs per record)."""
    found = model.__dict__.get("_decoder")
    if found is None:
        fixes = []
        for f in model.scalars:
            if f.type == "Boolean":
                fixes.append((f.name, _bools if f.is_list else bool))
            elif f.type == "Float":
                fixes.append((f.name, _floats if f.is_list else float))
        found = model.__dict__["_decoder"] = ([f.name for f in model.scalars], fixes)
    return found
