"""Python-first schemas: models as annotated classes, enums as ``enum.Enum`` subclasses.

The idiom is the dataclass one: a type hint per field, ``field(...)`` for what a hint cannot say,
and ``__id__``/``__unique__``/``__index__``/``__history__`` for block attributes
(``__unique_names__ = {("a", "b"): "ab"}`` names a compound's where key)::

    class Role(enum.Enum):
        USER = "USER"
        ADMIN = "ADMIN"

    class User:
        id: int = field(id=True, default=autoincrement())
        email: str = field(unique=True)
        name: str | None = None                     # optional, default None
        role: Role = Role.USER                      # a literal default
        posts: list[Post] = relation()              # back side of Post.author

    class Post:
        __history__ = True
        __index__ = [("title",)]
        id: int = field(id=True, default=autoincrement())
        title: str
        author_id: int
        author: User = relation(fields=["author_id"], references=["id"], on_delete="Cascade")

    schema = Schema.from_classes(Role, User, Post)

Types: ``str int float bool datetime bytes`` -> String Int Float Boolean DateTime Bytes; ``Json``
and ``BigInt`` (exported markers) for the other two; ``X | None`` is optional; ``list[X]`` a list.
"""

from __future__ import annotations

import datetime
import enum
import sys
import typing
from dataclasses import dataclass
from typing import Any

from .errors import SchemaError
from .schema import Default, Field, Model, RelationSpec, Schema

__all__ = ["BigInt", "Json", "autoincrement", "cuid", "field", "now", "relation", "uuid"]


class Json:
    """Type marker for a ``Json`` field: ``data: Json``."""


class BigInt(int):
    """Type marker for a ``BigInt`` field: ``views: BigInt``."""


def autoincrement() -> Default:
    return Default("autoincrement")


def uuid() -> Default:
    return Default("uuid")


def cuid() -> Default:
    return Default("cuid")


def now() -> Default:
    return Default("now")


@dataclass(frozen=True)
class _FieldInfo:
    id: bool = False
    unique: bool = False
    default: Any = None
    updated_at: bool = False
    type: str | None = None


@dataclass(frozen=True)
class _RelationInfo:
    spec: RelationSpec


def field(*, id: bool = False, unique: bool = False, default: Any = None, updated_at: bool = False,
          type: str | None = None) -> Any:
    """Attributes of a scalar field: ``email: str = field(unique=True)``."""
    return _FieldInfo(id, unique, default, updated_at, type)


def relation(name: str | None = None, *, fields: list[str] | tuple[str, ...] = (),
             references: list[str] | tuple[str, ...] = (), on_delete: str | None = None) -> Any:
    """A relation field: ``author: User = relation(fields=["author_id"], references=["id"])``."""
    return _RelationInfo(RelationSpec(name, tuple(fields), tuple(references), on_delete))  # type: ignore[arg-type]


_SCALARS: dict[Any, str] = {str: "String", int: "Int", float: "Float", bool: "Boolean",
                            datetime.datetime: "DateTime", bytes: "Bytes", Json: "Json",
                            BigInt: "BigInt", dict: "Json", Any: "Json"}


def _unwrap(hint: Any) -> tuple[Any, bool, bool]:
    """``X | None`` -> (X, optional, False); ``list[X]`` -> (X, False, True)."""
    optional = False
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        rest = [a for a in args if a is not type(None)]
        if len(rest) != 1:
            raise TypeError(f"unsupported union {hint}")
        hint, optional = rest[0], True
    if typing.get_origin(hint) is list:
        return typing.get_args(hint)[0], optional, True
    return hint, optional, False


def _model(cls: type, names: dict[str, Any]) -> Model:
    module = sys.modules.get(cls.__module__)
    namespace = {**(vars(module) if module else {}), **names, "Json": Json, "BigInt": BigInt}
    try:
        hints = typing.get_type_hints(cls, globalns=namespace, localns=names)
    except Exception as exc:
        raise SchemaError(f"model {cls.__name__}: cannot read its type hints: {exc}",
                          model=cls.__name__) from exc
    fields: dict[str, Field] = {}
    for name, hint in hints.items():
        if name.startswith("_"):
            continue
        try:
            inner, optional, is_list = _unwrap(hint)
        except TypeError as exc:
            raise SchemaError(f"model {cls.__name__}: field {name}: {exc}", model=cls.__name__,
                              field=name) from exc
        raw = cls.__dict__.get(name, _FieldInfo() if not optional else None)
        if isinstance(inner, type) and issubclass(inner, enum.Enum):
            ftype = inner.__name__
        elif isinstance(inner, type) and inner.__name__ in names and inner not in _SCALARS:
            ftype = inner.__name__
        elif inner in _SCALARS:
            ftype = _SCALARS[inner]
        else:
            raise SchemaError(f"model {cls.__name__}: field {name} has an unsupported type {hint}",
                              model=cls.__name__, field=name)
        if isinstance(raw, _RelationInfo):
            spec = raw.spec
            fields[name] = Field(name, ftype, optional, is_list,
                                 relation=spec if spec != RelationSpec() else None)
            continue
        info = raw if isinstance(raw, _FieldInfo) else _FieldInfo(default=raw)
        default = info.default
        if isinstance(default, enum.Enum):
            default = default.value
        if default is not None and not isinstance(default, Default):
            if ftype == "Float" and isinstance(default, int):
                default = float(default)
            default = Default("literal", default)
        fields[name] = Field(name, info.type or ftype, optional, is_list, info.id, info.unique,
                             default, info.updated_at)
    return Model(cls.__name__, fields, tuple(getattr(cls, "__id__", ())),
                 [tuple(u) for u in getattr(cls, "__unique__", [])],
                 [tuple(i) for i in getattr(cls, "__index__", [])],
                 bool(getattr(cls, "__history__", False)),
                 {tuple(k): v for k, v in getattr(cls, "__unique_names__", {}).items()})


def schema_from_classes(classes: tuple[type, ...]) -> Schema:
    names = {c.__name__: c for c in classes}
    enums = {c.__name__: tuple(str(m.value) for m in c) for c in classes
             if issubclass(c, enum.Enum)}
    models = {c.__name__: _model(c, names) for c in classes if not issubclass(c, enum.Enum)}
    return Schema(models, enums)
