"""pyidb.model: a Prisma-like client over pyidb (any backend: memory, SQLite, the browser).

>>> schema = Schema.from_prisma('''
... model User {
...   id    Int    @id @default(autoincrement())
...   email String @unique
...   posts Post[]
... }
... model Post {
...   id       Int    @id @default(autoincrement())
...   title    String
...   authorId Int
...   author   User   @relation(fields: [authorId], references: [id], onDelete: Cascade)
... }''')
>>> client = await Client.open("blog", schema)
>>> await client.user.create(data={"email": "a@x.org", "posts": {"create": [{"title": "Hi"}]}})
>>> await client.post.find_many(where={"author": {"is": {"email": "a@x.org"}}}, take=10)

Built on the public pyidb API only. Storage layout: pyidb/model/storage.py; query planning:
pyidb/model/planner.py; version history: pyidb/model/history.py; live queries: pyidb/model/live.py.

Plugins (the hook the sync layer uses)
--------------------------------------
``Client.open(name, schema, *, factory=None, plugins=())``. A plugin is any object with:

* ``stores: dict[str, dict]`` -- extra object stores it needs, ``name -> {"key_path": ...,
  "auto_increment": bool, "indexes": {index_name: {"key_path": ..., "unique": bool,
  "multi_entry": bool}}}``. ``Client.open`` creates/updates them with the model stores (they are
  part of the stored layout, so a change bumps the database version).
* ``on_write(self, tx: pyidb.Transaction, event: WriteEvent) -> None`` -- called synchronously for
  EVERY record the client creates, updates or deletes (nested writes, cascades, ``SetNull``
  updates, rows of implicit many-to-many join stores -- ``event.model`` is then the join store's
  name, e.g. ``"_CategoryToPost"``, key ``[A, B]`` -- and writes inside ``client.tx()``), inside
  the same IndexedDB transaction, right after the record's write request *succeeded* (so that an
  auto-increment key is known). It may issue requests on its own stores with
  ``tx.object_store(name)``: every readwrite transaction of the client includes the plugin stores.
  If it raises, the client call fails and the whole transaction aborts.

:class:`WriteEvent` (frozen): ``model``, ``op`` ("create" | "update" | "delete"), ``key`` (the
record's primary key as stored: Boolean parts as 1/0), ``before``/``after`` (records as the client
returns them; None for a create's before / a delete's after), ``changed`` (field names, for
updates), ``origin`` ("local", or what ``client.tx(origin=...)`` was given).

Applying server state (sync's pull)::

    async with client.tx(origin="remote") as t:
        await t.post.apply_remote("upsert", 7, {"id": 7, "title": "x", "authorId": 1})
        await t.post.apply_remote("delete", 8)
        await t.apply_remote_link("_CategoryToPost", "create", ["py", 7])   # an m:n row [A, B]

``apply_remote`` writes the record exactly as given (all scalar fields, type-checked; unique and
foreign-key checks; no defaults, no nested writes, no cascades: deleting a record others point at
raises ForeignKeyViolationError). It emits events (with the transaction's origin) and history.
``t.transaction`` is the pyidb transaction of the block (it includes the plugin stores), for reading
or writing a plugin's own stores in the same transaction.
``apply_remote_link`` adds or removes one row of an implicit many-to-many join store (both records
must exist to add one), with the same event a local connect/disconnect emits.
"""

from __future__ import annotations

from .client import Client, ModelClient, TxScope
from .errors import (
    FieldNotFoundError,
    ForeignKeyViolationError,
    InvalidValueError,
    MissingRequiredValueError,
    ModelError,
    RecordNotFoundError,
    SchemaError,
    UniqueViolationError,
)
from .events import Plugin, WriteEvent
from .pyclasses import BigInt, Json, autoincrement, cuid, field, now, relation, uuid
from .schema import Default, Field, Model, Schema

__all__ = [
    "BigInt",
    "Client",
    "Default",
    "Field",
    "FieldNotFoundError",
    "ForeignKeyViolationError",
    "InvalidValueError",
    "Json",
    "MissingRequiredValueError",
    "Model",
    "ModelClient",
    "ModelError",
    "Plugin",
    "RecordNotFoundError",
    "Schema",
    "SchemaError",
    "TxScope",
    "UniqueViolationError",
    "WriteEvent",
    "autoincrement",
    "cuid",
    "field",
    "now",
    "relation",
    "uuid",
]
