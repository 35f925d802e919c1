"""The sync server's rules, independent of HTTP: apply a push, answer a pull, list a history.

    server = SyncServer(SyncSchema.parse(text), Store("sqlite:///server.db"))
    server.push("alice", {"client_id": "c1", "events": [...], ...})

Guarantees (each proven by a test in tests/test_sync_*.py, listed in the README):

- exactly once: an event is identified by (client_id, seq); its answer is stored in
  ``sync_events`` in the same transaction as the change, so a retried event gets the stored answer
  and changes nothing;
- order: a client's events apply in seq order; an event after a gap is answered ``retry`` and
  nothing after it is applied in that push;
- no poison block: an invalid event is ``rejected`` with a reason, recorded, and the next seq goes on;
- commit order: see :meth:`Store.write`;
- scope: the caller's scope comes from authentication only; records of another scope are neither
  read nor written whatever the payload says;
- conflicts: server order decides, never a client clock. Per model policy (``policies=``):
  ``"merge"`` (default; an update writes only the fields it changed, so concurrent updates of
  different fields both stay and of the same field the later one in server order wins),
  ``"server_wins"`` (with the event's ``base_version``: a field another writer changed after that
  version keeps the server's value), ``"client_wins"`` (the client's whole record replaces the
  server's), ``"strict"`` (an event whose ``base_version`` is older than the record is rejected as
  ``conflict``) or a resolver ``fn(server_record, changed_fields, base_version) -> record``.
  Delete versus update: a delete wins. An update that reaches the server after the delete is
  rejected (``deleted``) and the client receives the tombstone; a delete that arrives after an
  update deletes the updated record (except under ``"strict"``). Keys of deleted records are not
  reused (a create on a tombstone is rejected).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from .protocol import (
    PROTOCOL_VERSION,
    SERVER_OUTDATED,
    UPGRADE_REQUIRED,
    SyncError,
    key_text,
    make_cursor,
    parse_cursor,
)
from .schema import Model, SyncSchema
from .store import Store, _Db

Resolver = Callable[[dict, dict, "int | None"], dict]
POLICIES = ("merge", "server_wins", "client_wins", "strict")
MAX_PAGE = 5000
MAX_BATCH = 5000


class Rejected(Exception):
    """An event that can never apply (validation, scope, constraint, conflict): its reason."""


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class SyncServer:
    """Push/pull/history for one schema over one :class:`Store`."""

    def __init__(self, schema: SyncSchema, store: Store, *, schema_version: int = 1,
                 policies: dict[str, str | Resolver] | None = None) -> None:
        self.schema, self.store, self.schema_version = schema, store, schema_version
        self.policies = dict(policies or {})
        # Fault injection for the tests only: called after each applied event of a push, inside
        # its transaction (see ``pause_hook`` in server.py).
        self.after_event: Callable[[int], None] | None = None
        for model, policy in self.policies.items():
            if model not in schema.models:
                raise ValueError(f"policy for unknown model {model!r}")
            if not callable(policy) and policy not in POLICIES:
                raise ValueError(f"policy {policy!r} for {model}: use one of {POLICIES} or a function")

    # -- requests -----------------------------------------------------------------------------
    def check_versions(self, body: dict) -> None:
        """Refuse a request from another protocol or schema version as a whole."""
        if body.get("protocol") != PROTOCOL_VERSION:
            raise SyncError(400, "protocol", f"this server speaks protocol {PROTOCOL_VERSION}")
        version = body.get("schema_version")
        if not isinstance(version, int) or version < self.schema_version:
            raise SyncError(409, UPGRADE_REQUIRED,
                            f"the server's schema is version {self.schema_version}, the client's "
                            f"{version}: upgrade the client before syncing")
        if version > self.schema_version:
            raise SyncError(409, SERVER_OUTDATED,
                            f"the client's schema is version {version}, newer than the server's "
                            f"{self.schema_version}")

    def push(self, scope: str, body: dict) -> dict:
        """Apply a batch of one client's events; answers one result per event."""
        self.check_versions(body)
        client_id, events = body.get("client_id"), body.get("events")
        if not isinstance(client_id, str) or not client_id or not isinstance(events, list):
            raise SyncError(400, "bad_request", "push needs client_id (text) and events (a list)")
        if len(events) > MAX_BATCH:
            raise SyncError(413, "batch_too_large", f"at most {MAX_BATCH} events per push")
        events = sorted((e for e in events if isinstance(e, dict) and isinstance(e.get("seq"), int)),
                        key=lambda e: e["seq"])
        results = []
        with self.store.write(scope) as db:
            db.execute("INSERT INTO sync_clients (client_id, scope, last_seq) VALUES (?, ?, 0) "
                       "ON CONFLICT DO NOTHING", (client_id, scope))
            owner, last_seq = db.execute("SELECT scope, last_seq FROM sync_clients WHERE client_id = ?",
                                         (client_id,)).fetchone()
            if owner != scope:
                raise SyncError(403, "forbidden", "this client id belongs to another scope")
            for event in events:
                seq = event["seq"]
                if seq <= last_seq:  # already applied or rejected: answer as the first time
                    results.append(self._stored_answer(db, client_id, event))
                    continue
                if seq != last_seq + 1:
                    results.append({"id": event.get("id"), "seq": seq, "status": "retry",
                                    "reason": f"seq {seq} follows a gap: expected {last_seq + 1}"})
                    break  # a client's events apply in order: nothing after a gap
                try:
                    with db.savepoint():
                        answer = self._apply(db, scope, client_id, event)
                except Rejected as rejected:
                    answer = {"status": "rejected", "reason": str(rejected),
                              **self._current(db, scope, event)}
                answer = {"id": event.get("id"), "seq": seq, **answer}
                db.execute("INSERT INTO sync_events (client_id, seq, event_id, result) VALUES (?, ?, ?, ?)",
                           (client_id, seq, str(event.get("id")), _dumps(answer)))
                last_seq = seq
                results.append(answer)
                if self.after_event is not None:
                    self.after_event(len(results))
            db.execute("UPDATE sync_clients SET last_seq = ? WHERE client_id = ?", (last_seq, client_id))
        return {"protocol": PROTOCOL_VERSION, "results": results}

    def pull(self, scope: str, body: dict) -> dict:
        """The scope's changes after ``cursor``: current records and tombstones in version order."""
        self.check_versions(body)
        limit = body.get("limit", 500)
        if not isinstance(limit, int) or not 0 < limit <= MAX_PAGE:
            raise SyncError(400, "bad_request", f"limit must be 1..{MAX_PAGE}")
        own = body.get("client_id")
        with self.store.read() as db:
            row = db.execute("SELECT version, min_version FROM sync_scopes WHERE scope = ?",
                             (scope,)).fetchone()
            current, oldest = row if row else (0, 0)
            parsed = parse_cursor(body.get("cursor"))
            reset = (parsed is None or parsed[0] != self.store.epoch or parsed[1] > current
                     or parsed[1] < oldest)
            since = 0 if reset else parsed[1]
            rows = db.execute(
                "SELECT model, key, version, deleted, data, client_id FROM sync_records "
                "WHERE scope = ? AND version > ? ORDER BY version LIMIT ?",
                (scope, since, limit + 1)).fetchall()
        has_more = len(rows) > limit
        rows = rows[:limit]
        last = rows[-1][2] if rows else since
        changes = [{"model": m, "key": json.loads(k), "version": v, "deleted": bool(d),
                    "record": json.loads(data) if data else None, "own": writer == own and own is not None}
                   for m, k, v, d, data, writer in rows]
        return {"protocol": PROTOCOL_VERSION, "cursor": make_cursor(self.store.epoch, last),
                "reset": reset, "has_more": has_more, "changes": changes}

    def history(self, scope: str, body: dict) -> dict:
        """Every version of one record of the caller's scope, oldest first."""
        self.check_versions(body)
        model, key = body.get("model"), body.get("key")
        if model not in self.schema.models:
            raise SyncError(400, "bad_request", f"unknown model {model!r}")
        with self.store.read() as db:
            rows = db.execute("SELECT version, deleted, data, client_id FROM sync_changelog "
                              "WHERE scope = ? AND model = ? AND key = ? ORDER BY version",
                              (scope, model, key_text(key))).fetchall()
        return {"protocol": PROTOCOL_VERSION,
                "versions": [{"version": v, "deleted": bool(d), "record": json.loads(data) if data else None,
                              "client_id": c} for v, d, data, c in rows]}

    def prune(self, scope: str, up_to_version: int) -> int:
        """Forget the scope's tombstones of versions <= ``up_to_version`` (their history stays in
        the changelog); returns how many. A client whose cursor is older than that can no longer
        learn of those deletes from the changes, so its next pull is a full resync. A pruned key
        may be created again."""
        with self.store.write(scope) as db:
            removed = db.execute("DELETE FROM sync_records WHERE scope = ? AND deleted = 1 AND version <= ?",
                                 (scope, up_to_version)).rowcount
            oldest = db.execute("SELECT min_version FROM sync_scopes WHERE scope = ?", (scope,)).fetchone()[0]
            db.execute("UPDATE sync_scopes SET min_version = ? WHERE scope = ?",
                       (max(oldest, up_to_version), scope))
        return removed

    def changelog(self, scope: str) -> list[dict]:
        """The whole changelog of a scope in version order (for replay checks and audits)."""
        with self.store.read() as db:
            rows = db.execute("SELECT version, model, key, deleted, data FROM sync_changelog "
                              "WHERE scope = ? ORDER BY version", (scope,)).fetchall()
        return [{"version": v, "model": m, "key": json.loads(k), "deleted": bool(d),
                 "record": json.loads(data) if data else None} for v, m, k, d, data in rows]

    # -- applying one event ------------------------------------------------------------------
    def _stored_answer(self, db: _Db, client_id: str, event: dict) -> dict:
        row = db.execute("SELECT event_id, result FROM sync_events WHERE client_id = ? AND seq = ?",
                         (client_id, event["seq"])).fetchone()
        if row is None:  # pruned long ago: it was answered then
            return {"id": event.get("id"), "seq": event["seq"], "status": "applied",
                    "reason": "already synced"}
        if row[0] != str(event.get("id")):
            return {"id": event.get("id"), "seq": event["seq"], "status": "rejected",
                    "reason": "this client already used that seq for another event: use a new client id"}
        return json.loads(row[1])

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
            fields = {f: 0 for f in record}
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
        version = self._write(db, scope, client_id, event["seq"], model.name, key, record, fields)
        after = event.get("after", data if op == "create" else None)
        status = "applied" if after is None or _dumps(after) == _dumps(record) else "merged"
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
            version = self._write(db, scope, client_id, event["seq"], store, ref, record, {})
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
               record: dict | None, fields: dict[str, int]) -> int:
        """Store a record (or tombstone when ``record`` is None) and its changelog entry."""
        version = db.next_version(scope)
        fields = {f: (version if v == 0 else v) for f, v in fields.items()}
        data = None if record is None else _dumps(record)
        deleted = 1 if record is None else 0
        db.execute("INSERT INTO sync_records (model, key, scope, version, deleted, data, field_versions, "
                   "client_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (model, key) DO UPDATE SET "
                   "version = excluded.version, deleted = excluded.deleted, data = excluded.data, "
                   "field_versions = excluded.field_versions, client_id = excluded.client_id",
                   (model, key, scope, version, deleted, data, _dumps(fields), client_id))
        db.execute("INSERT INTO sync_changelog (scope, version, model, key, deleted, data, client_id, "
                   "seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                   (scope, version, model, key, deleted, data, client_id, seq))
        return version

    def _delete(self, db: _Db, scope: str, client_id: str, seq: int, model: Model, key: str,
                record: dict) -> int:
        """Tombstone a record, after applying its relations' onDelete to the records pointing at it
        and removing its many-to-many links."""
        for store, sides in self.schema.joins.items():
            if model.name not in sides:
                continue
            for link_key, link in db.execute(
                    "SELECT key, data FROM sync_records WHERE scope = ? AND model = ? AND deleted = 0",
                    (scope, store)).fetchall():
                row = json.loads(link)
                if any(m == model.name and key_text(row[side]) == key
                       for side, m in zip("AB", sides, strict=True)):
                    self._write(db, scope, client_id, seq, store, link_key, None, {})
        for child in self.schema.models.values():
            for rel in child.relations:
                if rel.target != model.name:
                    continue
                target = {ref: record.get(ref) for ref in rel.references}
                for child_key, child_data in db.execute(
                        "SELECT key, data FROM sync_records WHERE scope = ? AND model = ? AND deleted = 0",
                        (scope, child.name)).fetchall():
                    child_record = json.loads(child_data)
                    if any(child_record.get(f) != target[r] for f, r in zip(rel.fields, rel.references,
                                                                            strict=True)):
                        continue
                    if rel.on_delete == "Cascade":
                        self._delete(db, scope, client_id, seq, child, child_key, child_record)
                    elif rel.on_delete == "SetNull":
                        updated = {**child_record, **{f: None for f in rel.fields}}
                        row = db.execute("SELECT field_versions FROM sync_records "
                                         "WHERE model = ? AND key = ?", (child.name, child_key)).fetchone()
                        fields = {**json.loads(row[0]), **{f: 0 for f in rel.fields}}
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
        uniques = [u for u in model.uniques if all(record.get(f) is not None for f in u)]
        if uniques:
            for other_key, other in db.execute(
                    "SELECT key, data FROM sync_records WHERE scope = ? AND model = ? AND deleted = 0",
                    (scope, model.name)).fetchall():
                other_record = json.loads(other)
                for u in uniques:
                    if other_key != key and all(other_record.get(f) == record[f] for f in u):
                        raise Rejected(f"ConstraintError: another {model.name} has {u} = "
                                       f"{[record[f] for f in u]!r}")
        return record

    def _type_ok(self, type_name: str, value: Any) -> bool:
        if type_name in self.schema.enums:
            return value in self.schema.enums[type_name]
        checks: dict[str, Callable[[Any], bool]] = {
            "String": lambda v: isinstance(v, str),
            "Int": lambda v: isinstance(v, int) and not isinstance(v, bool),
            "BigInt": lambda v: isinstance(v, int) and not isinstance(v, bool),
            "Float": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
            "Decimal": lambda v: isinstance(v, int | float | str) and not isinstance(v, bool),
            "Boolean": lambda v: isinstance(v, bool),
            "DateTime": lambda v: isinstance(v, dict) and isinstance(v.get("$date"), str),
            "Bytes": lambda v: isinstance(v, dict) and isinstance(v.get("$bytes"), str),
            "Json": lambda v: True,
        }
        return checks[type_name](value)
