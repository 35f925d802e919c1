"""What the sync server needs of the model schema: per model its id fields, value fields,
unique fields, foreign keys (for the scope and onDelete rules) and the scope declaration.

    schema = SyncSchema.parse(open("schema.prisma").read())
    schema.models["Post"].id_fields   # ("id",)

The schema is read by the model client's parser (``pyidb.model.Schema``): one reader, one set
of rules. Scope: a model whose doc comment says ``/// @@scope(ownerId)`` has its ``ownerId`` set to
the caller's scope key by the server (a client cannot forge it). Every record is also tied to one
scope in the server's own tables, and a foreign key must point at a record of the same scope: a
model reached from a scoped root through its relations (prisma-idb's ``rootModel``) is scoped that
way. The declaration lives in a ``///`` comment so the file stays a valid Prisma schema.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..model.schema import Field, Schema


@dataclass(frozen=True)
class Relation:
    """A foreign key: ``fields`` of this model point at ``references`` of ``target``."""

    target: str
    fields: tuple[str, ...]
    references: tuple[str, ...]
    on_delete: str


@dataclass
class Model:
    name: str
    fields: dict[str, Field]  # the value fields (scalars and enums): what a record holds
    id_fields: tuple[str, ...]
    uniques: list[tuple[str, ...]] = field(default_factory=list)
    scope_field: str | None = None
    relations: list[Relation] = field(default_factory=list)


def join_models(schema: Schema) -> dict[str, tuple[str, str]]:
    """The implicit many-to-many join stores of a model schema: ``{"_LabelToPost": ("Label",
    "Post")}`` (the models of columns A and B). Their rows sync as records keyed ``[A, B]``."""
    joins = {}
    for m in schema.models.values():
        for rel in m.relations.values():
            if rel.kind == "many" and rel.join_store and rel.join_side == "A":
                joins[rel.join_store] = (m.name, rel.target)
    return joins


@dataclass
class SyncSchema:
    models: dict[str, Model]
    enums: dict[str, tuple[str, ...]]
    joins: dict[str, tuple[str, str]] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> SyncSchema:
        """The sync view of a Prisma schema (raises pyidb.model.SchemaError on a bad schema)."""
        schema = Schema.from_prisma(text)
        scopes = {m.group(2): m.group(1) for m in re.finditer(
            r"///[^\n]*@@scope\(\s*(\w+)\s*\)[^\n]*\n(?:[ \t]*///[^\n]*\n)*[ \t]*model\s+(\w+)", text)}
        models = {}
        for m in schema.models.values():
            uniques = [(f.name,) for f in m.scalars if f.unique] + list(m.uniques)
            relations = [Relation(r.target, r.fields, r.references, r.on_delete)
                         for r in m.relations.values() if r.kind == "owner"]
            model = Model(m.name, {f.name: f for f in m.scalars}, m.id_fields, uniques,
                          scopes.get(m.name), relations)
            if model.scope_field and model.scope_field not in model.fields:
                raise ValueError(f"model {m.name}: @@scope({model.scope_field}) names no field")
            models[m.name] = model
        return cls(models, dict(schema.enums), join_models(schema))
