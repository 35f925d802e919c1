"""Applying one pushed event on the server: validation, scope, constraints, conflicts, onDelete.

Unique constraints, onDelete rules and many-to-many links are checked through ``sync_index``
(see :func:`index_specs`): one row per (record, unique field set or foreign key, value), kept in
the same transaction as the record. A check is then one indexed lookup, never a scan of the
scope's records in Python.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from typing import Any

from .protocol import key_text
from .schema import Model, SyncSchema
from .store import _Db

Resolver = Callable[[dict, dict, "int | None"], dict]


class Rejected(Exception):
    """An event that can never apply (validation, scope, constraint, conflict): its reason."""


_dumps = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode


def value_text(values: list[Any]) -> str:
    """The ``sync_index`` value of some fields' values (one text per value, as keys are)."""
    return key_text(values[0] if len(values) == 1 else values)


def index_specs(schema: SyncSchema) -> dict[str, list[tuple[str, tuple[str, ...]]]]:
    """Per model (and join store) the ``sync_index`` entries its live records get, as
    ``(name, fields)``: ``u:a,b`` per unique field set, ``r:a`` per foreign key, ``A``/``B``
    for the two sides of a many-to-many link row."""
    specs: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
    for m in schema.models.values():
        entries = {f"u:{','.join(u)}": tuple(u) for u in m.uniques}
        entries.update({f"r:{','.join(r.fields)}": tuple(r.fields) for r in m.relations})
        if entries:
            specs[m.name] = sorted(entries.items())
    for store in schema.joins:
        specs[store] = [("A", ("A",)), ("B", ("B",))]
    return specs


def specs_digest(specs: dict[str, list[tuple[str, tuple[str, ...]]]]) -> str:
    """Names the index layout: a server started with another schema rebuilds ``sync_index``."""
    return hashlib.sha256(_dumps(specs).encode()).hexdigest()[:16]


def index_rows(specs: list[tuple[str, tuple[str, ...]]], scope: str, model: str, key: str,
               record: dict) -> Iterator[tuple]:
    for name, fields in specs:
        values = [record.get(f) for f in fields]
        if all(v is not None for v in values):
            yield scope, model, name, value_text(values), key


INSERT_INDEX = ("INSERT INTO sync_index (scope, model, name, value, key) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT DO NOTHING")


def rebuild_index(db: _Db, specs: dict[str, list[tuple[str, tuple[str, ...]]]]) -> None:
    """Fill ``sync_index`` from the live records (a new database, an older one, a changed schema)."""
    db.execute("DELETE FROM sync_index")
    for model, model_specs in specs.items():
        rows = db.execute("SELECT scope, key, data FROM sync_records WHERE model = ? AND deleted = 0",
                          (model,)).fetchall()
        db.executemany(INSERT_INDEX, [entry for scope, key, data in rows for entry in
                                      index_rows(model_specs, scope, model, key, json.loads(data))])


def _is(kind: type | tuple[type, ...]) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, kind) and not isinstance(v, bool)


TYPE_CHECKS: dict[str, Callable[[Any], bool]] = {
    "String": lambda v: isinstance(v, str),
    "Int": _is(int),
    "BigInt": _is(int),
    "Float": _is((int, float)),
    "Decimal": _is((int, float, str)),
    "Boolean": lambda v: isinstance(v, bool),
    "DateTime": lambda v: isinstance(v, dict) and isinstance(v.get("$date"), str),
    "Bytes": lambda v: isinstance(v, dict) and isinstance(v.get("$bytes"), str),
    "Json": lambda v: True,
}


class Applier:
    """The event rules of :class:`pyidb.sync.core.SyncServer` (its base class)."""

    schema: SyncSchema
    policies: dict[str, str | Resolver]
    specs: dict[str, list[tuple[str, tuple[str, ...]]]]

    def _model(self, event: dict) -> Model:
        model = self.schema.models.get(event.get("model"))  # type: ignore[arg-type]
        if model is None:
            raise Rejected(f"unknown model {event.get('model')!r}")
        return model

    def _row(self, db: _Db, scope: str, model: str, key: str) -> tuple | None:
        """The record (scope, version, deleted, data, field_versions) if it is the caller's."""
        row = db.execute("SELECT scope, version, deleted, data, field_versions FROM sync_records "
                         "WHERE model = ? AND key = ?", (model, key)).fetchone()
        if row is None:
            return None
        if row[0] != scope:
            # Another scope's record: the same answer as "no such record", which tells nothing.
            raise Rejected(f"no {model} with key {key} in your scope")
        return row

    def _current(self, db: _Db, scope: str, event: dict) -> dict:
        """The server's view of the event's record after a rejection (for the client to restore)."""
        try:
            row = self._row(db, scope, self._model(event).name, key_text(event.get("key")))
        except (Rejected, TypeError, ValueError):
            row = None
        if row is None:
            return {"record": None, "deleted": False, "version": None}
        return {"record": json.loads(row[3]) if row[3] else None, "deleted": bool(row[2]), "version": row[1]}

    def _apply(self, db: _Db, scope: str, client_id: str, event: dict) -> dict:
        if event.get("model") in self.schema.joins:
            return self._apply_link(db, scope, client_id, event)
        model = self._model(event)
        op, data = event.get("op"), event.get("data")
        try:
            key = key_text(event.get("key"))
        except (TypeError, ValueError) as exc:
            raise Rejected(f"bad key: {exc}") from None
        row = self._row(db, scope, model.name, key)
        policy = self.policies.get(model.name, "merge")
        base = event.get("base_version")
        if op == "create":
            if not isinstance(data, dict):
                raise Rejected("a create needs data: the whole record")
            if row is not None:
                raise Rejected("deleted: keys of deleted records are not reused" if row[2]
                               else f"ConstraintError: a {model.name} with key {key} exists")
            record = self._validate(db, scope, model, dict(data), key, create=True)
            # No per-field versions on a create: a field missing from them was last written at
            # the record's first version, older than any base_version a client can hold.
            fields = {}
        elif op == "update":
            if not isinstance(data, dict):
                raise Rejected("an update needs data: the changed fields")
            if row is None:
                raise Rejected(f"no {model.name} with key {key} in your scope")
            if row[2]:
                raise Rejected("deleted: the record was deleted (a delete wins over updates)")
            current, field_versions = json.loads(row[3]), json.loads(row[4])
            if policy == "strict" and isinstance(base, int) and row[1] > base:
                raise Rejected(f"conflict: the record is at version {row[1]}, the change was made on {base}")
            changed = dict(data)
            if policy == "server_wins" and isinstance(base, int):
                changed = {f: v for f, v in changed.items() if field_versions.get(f, 0) <= base}
            if callable(policy):
                record = policy(dict(current), dict(changed), base if isinstance(base, int) else None)
            elif policy == "client_wins" and isinstance(event.get("after"), dict):
                record = {**current, **event["after"]}
            else:
                record = {**current, **changed}
            record = self._validate(db, scope, model, record, key, create=False)
            fields = {f: v for f, v in field_versions.items()}
            fields.update({f: 0 for f in record if record.get(f) != current.get(f)})
        elif op == "delete":
            if row is None:
                raise Rejected(f"no {model.name} with key {key} in your scope")
            if row[2]:  # deleted already (by another client): nothing new to record
                return {"status": "merged", "reason": "already deleted", "record": None,
                        "deleted": True, "version": row[1]}
            if policy == "strict" and isinstance(base, int) and row[1] > base:
                raise Rejected(f"conflict: the record is at version {row[1]}, the delete was made on {base}")
            version = self._delete(db, scope, client_id, event["seq"], model, key, json.loads(row[3]))
            return {"status": "applied", "reason": None, "record": None, "deleted": True, "version": version}
        else:
            raise Rejected(f"unknown op {op!r}: use create, update or delete")
        version = self._write(db, scope, client_id, event["seq"], model.name, key, record, fields,
                              fresh=row is None)
        after = event.get("after", data if op == "create" else None)
        if after is not None and after == record:
            # The server holds exactly the client's record: the answer need not carry it back.
            return {"status": "applied", "reason": None, "deleted": False, "version": version}
        status = "applied" if after is None else "merged"
        return {"status": status, "reason": None, "record": record, "deleted": False, "version": version}

    def _apply_link(self, db: _Db, scope: str, client_id: str, event: dict) -> dict:
        """A row of an implicit many-to-many join store: create (link) or delete (unlink) ``[A, B]``,
        both records of the caller's scope. Links are idempotent and may be made again."""
        store, key, op = event["model"], event.get("key"), event.get("op")
        if not isinstance(key, list) or len(key) != 2:
            raise Rejected(f"a {store} row's key is [A, B], not {key!r}")
        ref = key_text(key)
        row = self._row(db, scope, store, ref)
        live = row is not None and not row[2]
        if op == "create":
            for model, k in zip(self.schema.joins[store], key, strict=True):
                target = db.execute("SELECT scope, deleted FROM sync_records WHERE model = ? AND key = ?",
                                    (model, key_text(k))).fetchone()
                if target is None or target[0] != scope or target[1]:
                    raise Rejected(f"{store}: no {model} with key {k!r} in your scope")
            if live:
                return {"status": "merged", "reason": "already linked", "record": json.loads(row[3]),
                        "deleted": False, "version": row[1]}
            record = {"A": key[0], "B": key[1]}
            version = self._write(db, scope, client_id, event["seq"], store, ref, record, {},
                                  fresh=row is None)
            return {"status": "applied", "reason": None, "record": record, "deleted": False,
                    "version": version}
        if op == "delete":
            if not live:
                return {"status": "merged", "reason": "not linked", "record": None, "deleted": True,
                        "version": row[1] if row else None}
            version = self._write(db, scope, client_id, event["seq"], store, ref, None, {})
            return {"status": "applied", "reason": None, "record": None, "deleted": True, "version": version}
        raise Rejected(f"unknown op {op!r} for {store}: use create or delete")

    def _write(self, db: _Db, scope: str, client_id: str, seq: int | None, model: str, key: str,
               record: dict | None, fields: dict[str, int], *, fresh: bool = False) -> int:
        """Store a record (or tombstone when ``record`` is None), its changelog entry and its
        ``sync_index`` rows (``fresh``: the key has no row yet, so no old index rows either)."""
        version = db.next_version(scope)
        specs = self.specs.get(model)
        if specs:
            if not fresh:
                db.execute("DELETE FROM sync_index WHERE model = ? AND key = ?", (model, key))
            if record is not None:
                db.executemany(INSERT_INDEX, list(index_rows(specs, scope, model, key, record)))
        fields = {f: (version if v == 0 else v) for f, v in fields.items()}
        data = None if record is None else _dumps(record)
        deleted = 1 if record is None else 0
        db.execute("INSERT INTO sync_records (model, key, scope, version, deleted, data, field_versions, "
                   "client_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (model, key) DO UPDATE SET "
                   "version = excluded.version, deleted = excluded.deleted, data = excluded.data, "
                   "field_versions = excluded.field_versions, client_id = excluded.client_id",
                   (model, key, scope, version, deleted, data, _dumps(fields) if fields else "{}", client_id))
        db.log_change((scope, version, model, key, deleted, data, client_id, seq))
        return version

    def _delete(self, db: _Db, scope: str, client_id: str, seq: int, model: Model, key: str,
                record: dict, deleting: set[tuple[str, str]] | None = None) -> int | None:
        """Tombstone a record, after applying its relations' onDelete to the records pointing at it
        and removing its many-to-many links. ``deleting``: the records this delete is already
        taking (a cascade that comes back to one of them, through a cycle, stops there)."""
        deleting = set() if deleting is None else deleting
        if (model.name, key) in deleting:
            return None
        deleting.add((model.name, key))
        links: set[str] = set()
        for store, sides in self.schema.joins.items():
            for side, name in zip("AB", sides, strict=True):
                if name == model.name:
                    links.update(k for (k,) in db.execute(
                        "SELECT key FROM sync_index WHERE scope = ? AND model = ? AND name = ? AND value = ?",
                        (scope, store, side, key)).fetchall())
            for link_key in sorted(links):
                self._write(db, scope, client_id, seq, store, link_key, None, {})
            links.clear()
        for child in self.schema.models.values():
            for rel in child.relations:
                if rel.target != model.name:
                    continue
                target = [record.get(ref) for ref in rel.references]
                if any(v is None for v in target):
                    continue
                children = db.execute(
                    # CROSS JOIN: SQLite then reads the index first (not every record of the
                    # child model); PostgreSQL plans it as the inner join it is.
                    "SELECT r.key, r.data, r.field_versions FROM sync_index i CROSS JOIN sync_records r "
                    "WHERE r.model = i.model AND r.key = i.key AND i.scope = ? AND i.model = ? "
                    "AND i.name = ? AND i.value = ? AND r.deleted = 0 ORDER BY r.key",
                    (scope, child.name, f"r:{','.join(rel.fields)}", value_text(target))).fetchall()
                for child_key, child_data, child_fields in children:
                    child_record = json.loads(child_data)
                    if rel.on_delete == "Cascade":
                        self._delete(db, scope, client_id, seq, child, child_key, child_record, deleting)
                    elif rel.on_delete == "SetNull":
                        updated = {**child_record, **{f: None for f in rel.fields}}
                        fields = {**json.loads(child_fields), **{f: 0 for f in rel.fields}}
                        self._write(db, scope, client_id, seq, child.name, child_key, updated, fields)
                    else:
                        raise Rejected(f"a {child.name} still points at this {model.name} "
                                       f"(relation {rel.fields} without onDelete: Cascade)")
        return self._write(db, scope, client_id, seq, model.name, key, None, {})

    def _validate(self, db: _Db, scope: str, model: Model, record: dict, key: str, *, create: bool) -> dict:
        """The record checked against the schema (types, required, key, scope, relations)."""
        if model.scope_field:
            if not create and record.get(model.scope_field) != scope:
                raise Rejected(f"{model.name}.{model.scope_field} is the scope key: it cannot change")
            record[model.scope_field] = scope  # the caller's scope, whatever the payload said
        for name, value in record.items():
            field = model.fields.get(name)
            if field is None:
                raise Rejected(f"{model.name} has no field {name!r}")
            if value is None:
                if not field.optional:
                    raise Rejected(f"{model.name}.{name} is required")
                continue
            values = value if field.is_list else [value]
            if field.is_list and not isinstance(value, list):
                raise Rejected(f"{model.name}.{name} must be a list")
            for item in values:
                if not self._type_ok(field.type, item):
                    raise Rejected(f"{model.name}.{name} must be a {field.type}, not {item!r}")
        for name, field in model.fields.items():
            if not field.optional and not field.is_list and name not in record:
                raise Rejected(f"{model.name}.{name} is required")
        ids = [record.get(f) for f in model.id_fields]
        if key_text(ids[0] if len(ids) == 1 else ids) != key:
            raise Rejected(f"the key {key} does not match the record's id fields {model.id_fields}")
        for rel in model.relations:
            values = [record.get(f) for f in rel.fields]
            if any(v is None for v in values):
                continue
            target = self.schema.models[rel.target]
            if tuple(rel.references) != target.id_fields:
                continue
            row = db.execute("SELECT scope, deleted FROM sync_records WHERE model = ? AND key = ?",
                             (rel.target, key_text(values[0] if len(values) == 1 else values))).fetchone()
            if row is None or row[0] != scope or row[1]:
                raise Rejected(f"{model.name}.{','.join(rel.fields)} points at no {rel.target} in your scope")
        for u in model.uniques:
            values = [record.get(f) for f in u]
            if any(v is None for v in values):
                continue
            if db.execute("SELECT key FROM sync_index WHERE scope = ? AND model = ? AND name = ? "
                          "AND value = ? AND key <> ? LIMIT 1",
                          (scope, model.name, f"u:{','.join(u)}", value_text(values), key)).fetchone():
                raise Rejected(f"ConstraintError: another {model.name} has {u} = {values!r}")
        return record

    def _type_ok(self, type_name: str, value: Any) -> bool:
        if type_name in self.schema.enums:
            return value in self.schema.enums[type_name]
        return TYPE_CHECKS[type_name](value)
