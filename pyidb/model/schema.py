"""The schema: models, fields, enums and resolved relations, whatever syntax declared them.

A :class:`Schema` comes from a Prisma schema (:meth:`Schema.from_prisma`) or from Python classes
(:meth:`Schema.from_classes`); both give equal objects. :meth:`Schema.storage` says which object
stores and indexes the client keeps for it (see pyidb/model/storage.py for the names).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from .errors import SchemaError

__all__ = ["SCALAR_TYPES", "Default", "Field", "Model", "Relation", "Schema"]

SCALAR_TYPES = ("String", "Int", "Float", "Boolean", "DateTime", "Json", "Bytes", "BigInt")
OnDelete = Literal["Cascade", "SetNull", "Restrict", "NoAction"]


@dataclass(frozen=True)
class Default:
    """``@default(...)``: ``kind`` is autoincrement, uuid, cuid, now or literal (with ``value``)."""

    kind: str
    value: Any = None


@dataclass(frozen=True)
class RelationSpec:
    """``@relation(...)`` as written on a relation field."""

    name: str | None = None
    fields: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    on_delete: OnDelete | None = None


@dataclass(frozen=True)
class Field:
    """One field: ``type`` is a scalar type name, an enum name or a model name."""

    name: str
    type: str
    optional: bool = False
    is_list: bool = False
    id: bool = False
    unique: bool = False
    default: Default | None = None
    updated_at: bool = False
    relation: RelationSpec | None = None


@dataclass(frozen=True)
class Relation:
    """A relation field resolved against its opposite side.

    ``kind``: "owner" (this model holds the foreign key ``fields`` -> target ``references``),
    "back" (the target holds it), or "many" (implicit many-to-many through ``join_store``).
    """

    model: str
    field: str
    target: str
    kind: Literal["owner", "back", "many"]
    to_many: bool
    fields: tuple[str, ...]
    references: tuple[str, ...]
    on_delete: OnDelete
    opposite: str
    join_store: str | None = None
    join_side: str | None = None  # "A" or "B": this model's column in the join store


@dataclass
class Model:
    name: str
    fields: dict[str, Field]
    id_fields: tuple[str, ...] = ()
    uniques: list[tuple[str, ...]] = field(default_factory=list)
    indexes: list[tuple[str, ...]] = field(default_factory=list)
    history: bool = False
    unique_names: dict[tuple[str, ...], str] = field(default_factory=dict)
    """``@@unique([a, b], name: "ab")``: the where key of a compound id or unique (default a_b)."""
    relations: dict[str, Relation] = field(default_factory=dict, compare=False)

    @property
    def scalars(self) -> list[Field]:
        return [f for f in self.fields.values() if f.name not in self.relations]

    @property
    def autoincrement(self) -> bool:
        return any(self.fields[f].default == Default("autoincrement") for f in self.id_fields)

    def compound_key(self, fields: tuple[str, ...]) -> str:
        """The where key naming a compound id or unique: its name, or the fields joined by _."""
        return self.unique_names.get(fields) or "_".join(fields)

    def unique_sets(self) -> list[tuple[str, ...]]:
        """Every set of fields that identifies one record: the id first, then the uniques."""
        return [self.id_fields, *self.uniques]


@dataclass
class Schema:
    models: dict[str, Model]
    enums: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for model in self.models.values():
            _check_model(self, model)
        for model in self.models.values():
            model.relations = {f.name: _resolve(self, model, f) for f in model.fields.values()
                               if f.type in self.models}

    @classmethod
    def from_prisma(cls, text: str) -> Schema:
        """``Schema.from_prisma(open("schema.prisma").read())``."""
        from .prisma import parse_prisma

        return parse_prisma(text)

    @classmethod
    def from_classes(cls, *classes: type) -> Schema:
        """``Schema.from_classes(User, Post, Role)``: models as annotated classes, enums as Enums."""
        from .pyclasses import schema_from_classes

        return schema_from_classes(classes)

    def model(self, name: str) -> Model:
        return self.models[name]

    def describe(self) -> dict[str, Any]:
        """A JSON-able description (what the database stores to detect schema changes)."""
        return {
            "enums": {k: list(v) for k, v in sorted(self.enums.items())},
            "models": {
                m.name: {"fields": {f.name: [f.type, f.optional, f.is_list] for f in m.scalars},
                         "history": m.history}
                for m in self.models.values()
            },
        }


def _check_model(schema: Schema, model: Model) -> None:
    ids = [f.name for f in model.fields.values() if f.id]
    if ids and model.id_fields:
        raise SchemaError(f"model {model.name}: both @id and @@id", model=model.name)
    if ids:
        if len(ids) > 1:
            raise SchemaError(f"model {model.name}: more than one @id field (use @@id([...]))",
                              model=model.name)
        model.id_fields = (ids[0],)
    if not model.id_fields:
        raise SchemaError(f"model {model.name} has no @id or @@id (every model needs one)",
                          model=model.name)
    for f in model.fields.values():
        if f.type not in SCALAR_TYPES and f.type not in schema.enums and f.type not in schema.models:
            raise SchemaError(f"model {model.name}: field {f.name} has unknown type {f.type}",
                              model=model.name, field=f.name, value=f.type)
        if f.unique and (f.name,) not in model.uniques:
            model.uniques.insert(0, (f.name,))
        if f.default is not None and f.default.kind == "autoincrement" and f.type != "Int":
            raise SchemaError(f"model {model.name}: autoincrement() needs an Int field, not "
                              f"{f.name} {f.type}", model=model.name, field=f.name)
    for group in [model.id_fields, *model.uniques, *model.indexes]:
        for name in group:
            f = model.fields.get(name)
            if f is None or f.type in schema.models:
                raise SchemaError(f"model {model.name}: {list(group)} names {name!r}, not a scalar "
                                  "field of the model", model=model.name, field=name)
            if f.is_list and len(group) == 1 and group in model.indexes and f.type != "Json":
                continue  # @@index([tags]) on a list: a multiEntry index (one entry per element)
            if f.type in ("Json",) or f.is_list:
                raise SchemaError(f"model {model.name}: {f.type}{'[]' if f.is_list else ''} field "
                                  f"{name} cannot be indexed", model=model.name, field=name)


def _resolve(schema: Schema, model: Model, f: Field) -> Relation:
    target = schema.models[f.type]
    name = f.relation.name if f.relation else None
    opposite = [g for g in target.fields.values() if g.type == model.name and g is not f
                and (g.relation.name if g.relation else None) == name]
    if len(opposite) != 1:
        raise SchemaError(
            f"model {model.name}: relation field {f.name} needs exactly one opposite field of type "
            f"{model.name} on {target.name} (found {len(opposite)}; name relations with "
            "@relation(\"name\") to tell them apart)", model=model.name, field=f.name)
    other = opposite[0]
    spec, other_spec = f.relation, other.relation
    if spec and spec.fields:
        if len(spec.fields) != len(spec.references) or not spec.fields:
            raise SchemaError(f"model {model.name}: @relation on {f.name} needs fields and "
                              "references of the same length", model=model.name, field=f.name)
        for local in spec.fields:
            if local not in model.fields or model.fields[local].type in schema.models:
                raise SchemaError(f"model {model.name}: @relation(fields: ...) names {local!r}, "
                                  "not a scalar field", model=model.name, field=local)
        if tuple(spec.references) not in target.unique_sets():
            raise SchemaError(f"model {model.name}: @relation on {f.name} must reference the id "
                              f"or a unique of {target.name}", model=model.name, field=f.name)
        optional = any(model.fields[x].optional for x in spec.fields)
        on_delete = spec.on_delete or ("SetNull" if optional else "Restrict")
        if on_delete == "SetNull" and not optional:
            raise SchemaError(f"model {model.name}: onDelete: SetNull needs optional fields "
                              f"{list(spec.fields)}", model=model.name, field=f.name)
        if f.is_list:
            raise SchemaError(f"model {model.name}: the side with @relation(fields: ...) cannot be "
                              "a list", model=model.name, field=f.name)
        return Relation(model.name, f.name, target.name, "owner", False, spec.fields,
                        spec.references, on_delete, other.name)
    if other_spec and other_spec.fields:
        back = _resolve_back(schema, target, other)
        return Relation(model.name, f.name, target.name, "back", f.is_list, back.fields,
                        back.references, back.on_delete, other.name)
    if f.is_list and other.is_list:
        a, b = sorted([model.name, target.name])
        join = f"_{a}To{b}" if not name else f"_{name}"
        side = "A" if model.name == a else "B"
        if model.name == target.name:  # self relation: the field names decide the side
            side = "A" if f.name < other.name else "B"
        return Relation(model.name, f.name, target.name, "many", True, (), (), "Cascade",
                        other.name, join, side)
    raise SchemaError(f"model {model.name}: relation {f.name} needs @relation(fields: [...], "
                      f"references: [...]) on one side", model=model.name, field=f.name)


def _resolve_back(schema: Schema, owner: Model, f: Field) -> Relation:
    spec = f.relation
    assert spec is not None
    optional = any(owner.fields[x].optional for x in spec.fields if x in owner.fields)
    return Relation(owner.name, f.name, f.type, "owner", False, spec.fields, spec.references,
                    spec.on_delete or ("SetNull" if optional else "Restrict"), "")
