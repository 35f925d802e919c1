"""What the sync server needs to know of a Prisma schema: models, their id, scalar fields,
unique fields, relations (for the scope and cascade rules) and the scope declaration.

    schema = SyncSchema.parse(open("schema.prisma").read())
    schema.models["Post"].id_fields   # ("id",)

Scope: a model whose doc comment says ``/// @@scope(ownerId)`` has its ``ownerId`` set to the
caller's scope key by the server (a client cannot forge it). Every record is also tied to one scope
in the server's own tables, and a relation field must point at a record of the same scope: a model
reached from a scoped root through its relations (prisma-idb's ``rootModel``) is scoped that way.
The declaration lives in a ``///`` comment so the file stays a valid Prisma schema.

This is a small reader of the subset the server needs, not a validator: the model client
(``pyidb.model``) is the place that rejects a bad schema.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

SCALARS = {"String", "Int", "BigInt", "Float", "Decimal", "Boolean", "DateTime", "Json", "Bytes"}


@dataclass
class Field:
    name: str
    type: str
    optional: bool = False
    is_list: bool = False
    is_id: bool = False
    unique: bool = False
    has_default: bool = False
    relation_fields: tuple[str, ...] = ()  # set on the relation field that holds the foreign key
    relation_references: tuple[str, ...] = ()
    on_delete: str = ""


@dataclass
class Relation:
    """A foreign key: ``fields`` of this model point at ``references`` of ``target``."""

    target: str
    fields: tuple[str, ...]
    references: tuple[str, ...]
    on_delete: str


@dataclass
class Model:
    name: str
    fields: dict[str, Field] = field(default_factory=dict)
    id_fields: tuple[str, ...] = ()
    scope_field: str | None = None
    relations: list[Relation] = field(default_factory=list)


@dataclass
class SyncSchema:
    models: dict[str, Model]
    enums: dict[str, list[str]]

    @classmethod
    def parse(cls, text: str) -> SyncSchema:
        """Read the models and enums of a Prisma schema (see the module doc)."""
        models: dict[str, Model] = {}
        enums: dict[str, list[str]] = {}
        for kind, name, doc, body in _blocks(text):
            if kind == "enum":
                enums[name] = [ln.split()[0] for ln in _lines(body) if not ln.startswith("@@")]
                continue
            model = Model(name)
            scope = re.search(r"@@scope\(\s*(\w+)\s*\)", doc)
            model.scope_field = scope.group(1) if scope else None
            for line in _lines(body):
                if line.startswith("@@"):
                    ids = re.match(r"@@id\(\s*\[([^\]]*)\]", line)
                    if ids:
                        model.id_fields = tuple(s.strip() for s in ids.group(1).split(","))
                    continue
                f = _field(line)
                model.fields[f.name] = f
                if f.is_id:
                    model.id_fields = (f.name,)
                if f.relation_fields:
                    model.relations.append(Relation(f.type, f.relation_fields, f.relation_references,
                                                    f.on_delete))
            models[name] = model
        schema = cls(models, enums)
        for model in models.values():
            if not model.id_fields:
                raise ValueError(f"model {model.name} has no @id or @@id: sync needs a primary key")
            if model.scope_field and model.scope_field not in model.fields:
                raise ValueError(f"model {model.name}: @@scope({model.scope_field}) names no field")
        return schema

    def is_value_type(self, type_name: str) -> bool:
        """A scalar or an enum: a field stored in the record (not a relation)."""
        return type_name in SCALARS or type_name in self.enums


def _blocks(text: str):
    # ``/// doc`` lines directly above a block belong to it.
    pattern = re.compile(r"((?:[ \t]*///[^\n]*\n)*)[ \t]*(model|enum)\s+(\w+)\s*\{([^}]*)\}")
    for m in pattern.finditer(text):
        yield m.group(2), m.group(3), m.group(1), m.group(4)


def _lines(body: str) -> list[str]:
    out = []
    for raw in body.splitlines():
        line = raw.split("//", 1)[0].strip()
        if line:
            out.append(line)
    return out


def _field(line: str) -> Field:
    m = re.match(r"(\w+)\s+(\w+)(\[\])?(\?)?\s*(.*)$", line)
    if not m:
        raise ValueError(f"cannot read the field line {line!r}")
    name, type_name, is_list, optional, attrs = m.groups()
    f = Field(name, type_name, optional=bool(optional), is_list=bool(is_list))
    f.is_id = bool(re.search(r"@id\b", attrs))
    f.unique = bool(re.search(r"@unique\b", attrs))
    f.has_default = bool(re.search(r"@default\(|@updatedAt\b", attrs))
    rel = re.search(r"@relation\(([^)]*)\)", attrs)
    if rel:
        fields = re.search(r"fields:\s*\[([^\]]*)\]", rel.group(1))
        refs = re.search(r"references:\s*\[([^\]]*)\]", rel.group(1))
        on_delete = re.search(r"onDelete:\s*(\w+)", rel.group(1))
        if fields and refs:
            f.relation_fields = tuple(s.strip() for s in fields.group(1).split(","))
            f.relation_references = tuple(s.strip() for s in refs.group(1).split(","))
        f.on_delete = on_delete.group(1) if on_delete else ""
    return f
