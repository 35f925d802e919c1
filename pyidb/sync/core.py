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

from .apply import Applier, Rejected, Resolver, _dumps, index_specs, rebuild_index, specs_digest
from .protocol import (
    PROTOCOL_VERSION,
    SERVER_OUTDATED,
    UPGRADE_REQUIRED,
    SyncError,
    key_text,
    make_cursor,
    parse_cursor,
)
from .schema import SyncSchema
from .store import Store, _Db

__all__ = ["POLICIES", "Rejected", "Resolver", "SyncServer"]

POLICIES = ("merge", "server_wins", "client_wins", "strict")
MAX_PAGE = 5000
MAX_BATCH = 5000


class SyncServer(Applier):
    """Push/pull/history for one schema over one :class:`Store`."""

    def __init__(self, schema: SyncSchema, store: Store, *, schema_version: int = 1,
                 policies: dict[str, str | Resolver] | None = None) -> None:
        self.schema, self.store, self.schema_version = schema, store, schema_version
        self.policies = dict(policies or {})
        self.specs = index_specs(schema)
        store.migrate("index_layout", specs_digest(self.specs), lambda db: rebuild_index(db, self.specs))
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
        return json.loads(self.push_json(scope, body))

    def push_json(self, scope: str, body: dict) -> str:
        """:meth:`push`'s answer as JSON text (the HTTP endpoint sends it): each result is
        encoded once, for the exactly-once record and the answer both."""
        self.check_versions(body)
        client_id, events = body.get("client_id"), body.get("events")
        if not isinstance(client_id, str) or not client_id or not isinstance(events, list):
            raise SyncError(400, "bad_request", "push needs client_id (text) and events (a list)")
        if len(events) > MAX_BATCH:
            raise SyncError(413, "batch_too_large", f"at most {MAX_BATCH} events per push")
        events = sorted((e for e in events if isinstance(e, dict) and isinstance(e.get("seq"), int)),
                        key=lambda e: e["seq"])
        results: list[str] = []  # JSON texts
        answered: dict[int, dict] = {}  # this push's answers, stored together at its end
        texts: dict[int, str] = {}
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
                    results.append(_dumps(self._stored_answer(db, client_id, event, answered)))
                    continue
                if seq != last_seq + 1:
                    results.append(_dumps({"id": event.get("id"), "seq": seq, "status": "retry",
                                           "reason": f"seq {seq} follows a gap: expected {last_seq + 1}"}))
                    break  # a client's events apply in order: nothing after a gap
                try:
                    # Only a delete can be refused after it wrote something (an onDelete rule
                    # found deep in a cascade); the other ops check everything first.
                    if event.get("op") == "delete":
                        with db.savepoint():
                            answer = self._apply(db, scope, client_id, event)
                    else:
                        answer = self._apply(db, scope, client_id, event)
                except Rejected as rejected:
                    answer = {"status": "rejected", "reason": str(rejected),
                              **self._current(db, scope, event)}
                answer = {"id": event.get("id"), "seq": seq, **answer}
                answered[seq] = answer
                texts[seq] = text = _dumps(answer)
                last_seq = seq
                results.append(text)
                if self.after_event is not None:
                    self.after_event(len(results))
            db.executemany("INSERT INTO sync_events (client_id, seq, event_id, result) VALUES (?, ?, ?, ?)",
                           [(client_id, seq, str(a.get("id")), texts[seq]) for seq, a in answered.items()])
            db.execute("UPDATE sync_clients SET last_seq = ? WHERE client_id = ?", (last_seq, client_id))
        return f'{{"protocol":{PROTOCOL_VERSION},"results":[{",".join(results)}]}}'

    def pull(self, scope: str, body: dict) -> dict:
        """The scope's changes after ``cursor``: current records and tombstones in version order."""
        return json.loads(self.pull_json(scope, body))

    def pull_json(self, scope: str, body: dict) -> str:
        """:meth:`pull`'s answer as JSON text, made from the stored JSON of the records and keys
        as they are (the HTTP endpoint sends it: no record is parsed and encoded again)."""
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
                "WHERE scope = ? AND version > ? AND deleted < 2 ORDER BY version LIMIT ?",
                (scope, since, limit + 1)).fetchall()
        has_more = len(rows) > limit
        rows = rows[:limit]
        last = rows[-1][2] if rows else since
        # key and data are JSON texts made by this server (key_text, _dumps): spliced in as they are.
        changes = ",".join(
            f'{{"model":{_dumps(m)},"key":{k},"version":{int(v)},"deleted":{"true" if d else "false"},'
            f'"record":{data or "null"},"own":{"true" if writer == own and own is not None else "false"}}}'
            for m, k, v, d, data, writer in rows)
        head = _dumps({"protocol": PROTOCOL_VERSION, "cursor": make_cursor(self.store.epoch, last),
                       "reset": reset, "has_more": has_more})
        return f'{head[:-1]},"changes":[{changes}]}}'

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
        learn of those deletes from the changes, so its next pull is a full resync. The key stays
        taken (``deleted = 2``: a marker no pull returns), so a create of a pruned key is still
        rejected: a client that never saw the delete cannot bring the record back."""
        with self.store.write(scope) as db:
            removed = db.execute("UPDATE sync_records SET deleted = 2 WHERE scope = ? AND deleted = 1 "
                                 "AND version <= ?", (scope, up_to_version)).rowcount
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
    def _stored_answer(self, db: _Db, client_id: str, event: dict, answered: dict[int, dict]) -> dict:
        if event["seq"] in answered:  # the same seq twice in one push
            first = answered[event["seq"]]
            row = (str(first.get("id")), _dumps(first))
        else:
            row = db.execute("SELECT event_id, result FROM sync_events WHERE client_id = ? AND seq = ?",
                             (client_id, event["seq"])).fetchone()
        if row is None:  # pruned long ago: it was answered then
            return {"id": event.get("id"), "seq": event["seq"], "status": "applied",
                    "reason": "already synced"}
        if row[0] != str(event.get("id")):
            return {"id": event.get("id"), "seq": event["seq"], "status": "rejected",
                    "reason": "this client already used that seq for another event: use a new client id"}
        return json.loads(row[1])

