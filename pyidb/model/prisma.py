"""Read a Prisma schema (the subset a client over IndexedDB can honour) into a :class:`Schema`.

Supported: ``model`` and ``enum`` blocks; scalar types String Int Float Boolean DateTime Json Bytes
BigInt with ``?`` and ``[]``; ``@id @unique @updatedAt @default(autoincrement() | uuid() | cuid() |
now() | literal) @relation(name?, fields:, references:, onDelete:)``; ``@@id @@unique @@index``
and ``@@history`` (this client's opt-in version history). ``datasource``/``generator`` blocks
are skipped. Anything else raises :class:`SchemaError` naming the line.
"""

from __future__ import annotations

import re
from typing import Any

from .errors import SchemaError
from .schema import Default, Field, Model, RelationSpec, Schema

__all__ = ["parse_prisma"]

_TOKEN = re.compile(r'\s*(?:("(?:[^"\\]|\\.)*")|(-?\d+\.\d+|-?\d+)|([A-Za-z_][\w.]*)|(\S))')
_FIELD = re.compile(r"^([A-Za-z_]\w*)\s+([A-Za-z_]\w*)(\[\])?(\?)?\s*(.*)$")
_ON_DELETE = ("Cascade", "SetNull", "Restrict", "NoAction")


class _Line:
    def __init__(self, number: int, text: str) -> None:
        self.number, self.text = number, text

    def error(self, message: str) -> SchemaError:
        return SchemaError(f"schema line {self.number}: {message}: {self.text.strip()!r}")


def _tokens(line: _Line, text: str) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            break
        pos = m.end()
        s, num, ident, punct = m.groups()
        if s is not None:
            out.append(("str", bytes(s[1:-1], "utf-8").decode("unicode_escape")))
        elif num is not None:
            out.append(("num", float(num) if "." in num else int(num)))
        elif ident is not None:
            out.append(("id", ident))
        elif punct is not None:
            out.append(("p", punct))
    return out


class _Args:
    """A tiny recursive-descent reader of attribute arguments: ``(fields: [a, b], onDelete: X)``."""

    def __init__(self, line: _Line, toks: list[tuple[str, Any]]) -> None:
        self.line, self.toks, self.i = line, toks, 0

    def peek(self) -> tuple[str, Any] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, kind: str | None = None, value: Any = None) -> tuple[str, Any]:
        tok = self.peek()
        if tok is None or (kind and tok[0] != kind) or (value is not None and tok[1] != value):
            raise self.line.error(f"expected {value or kind}")
        self.i += 1
        return tok

    def value(self) -> Any:
        tok = self.take()
        if tok == ("p", "["):
            items = []
            while self.peek() != ("p", "]"):
                items.append(self.value())
                if self.peek() == ("p", ","):
                    self.i += 1
            self.take("p", "]")
            return ("list", items)
        if tok[0] == "id" and self.peek() == ("p", "("):
            self.i += 1
            args = self.arguments()
            return ("call", tok[1], args)
        return tok

    def arguments(self) -> list[tuple[str | None, Any]]:
        """After ``(``: positional and named arguments, up to and including ``)``."""
        out: list[tuple[str | None, Any]] = []
        while self.peek() != ("p", ")"):
            name = None
            if (self.peek() or ("", ""))[0] == "id" and self.i + 1 < len(self.toks) \
                    and self.toks[self.i + 1] == ("p", ":"):
                name = self.take()[1]
                self.i += 1
            out.append((name, self.value()))
            if self.peek() == ("p", ","):
                self.i += 1
        self.take("p", ")")
        return out


def _names(line: _Line, value: Any) -> tuple[str, ...]:
    if not (isinstance(value, tuple) and value[0] == "list"):
        raise line.error("expected a list of field names like [a, b]")
    names = []
    for item in value[1]:
        if item[0] != "id":
            raise line.error("expected a field name")
        names.append(item[1])
    return tuple(names)


def _literal(line: _Line, value: Any) -> Any:
    kind = value[0]
    if kind in ("str", "num"):
        return value[1]
    if kind == "id" and value[1] in ("true", "false"):
        return value[1] == "true"
    if kind == "id":
        return ("enum", value[1])
    if kind == "list":
        return [_literal(line, v) for v in value[1]]
    raise line.error("unsupported @default value")


def _attributes(line: _Line, text: str) -> list[tuple[str, list[tuple[str | None, Any]]]]:
    """``@id @default(now()) @@index([a])`` -> [("id", []), ("default", [...]), ...]."""
    toks = _tokens(line, text)
    reader = _Args(line, toks)
    out = []
    while reader.peek() is not None:
        at = reader.take("p", "@")
        del at
        double = reader.peek() == ("p", "@")
        if double:
            reader.i += 1
        name = reader.take("id")[1]
        args: list[tuple[str | None, Any]] = []
        if reader.peek() == ("p", "("):
            reader.i += 1
            args = reader.arguments()
        out.append((("@@" if double else "@") + name, args))
    return out


def _default(line: _Line, args: list[tuple[str | None, Any]], ftype: str) -> Default:
    if len(args) != 1:
        raise line.error("@default takes one value")
    value = args[0][1]
    if value[0] == "call":
        fn = value[1]
        if fn in ("autoincrement", "uuid", "cuid", "now") and not value[2]:
            return Default(fn)
        raise line.error(f"@default({fn}(...)) is not supported (use autoincrement(), uuid(), "
                         "cuid(), now() or a literal)")
    lit = _literal(line, value)
    if isinstance(lit, tuple):
        lit = lit[1]  # an enum member
    if ftype == "Float" and isinstance(lit, int) and not isinstance(lit, bool):
        lit = float(lit)
    return Default("literal", lit)


def _relation(line: _Line, args: list[tuple[str | None, Any]]) -> RelationSpec:
    name, fields, refs, on_delete = None, (), (), None
    for key, value in args:
        if key is None or key == "name":
            if value[0] != "str":
                raise line.error("the relation name must be a string")
            name = value[1]
        elif key == "fields":
            fields = _names(line, value)
        elif key == "references":
            refs = _names(line, value)
        elif key == "onDelete":
            if value[0] != "id" or value[1] not in _ON_DELETE:
                raise line.error(f"onDelete must be one of {', '.join(_ON_DELETE)}")
            on_delete = value[1]
        else:
            raise line.error(f"@relation({key}: ...) is not supported")
    return RelationSpec(name, fields, refs, on_delete)


def _field(line: _Line, text: str) -> Field:
    m = _FIELD.match(text)
    if m is None:
        raise line.error("cannot read this field (expected `name Type[]? @attributes`)")
    name, ftype, is_list, optional, rest = m.groups()
    if is_list and optional:
        raise line.error("a list field cannot be optional")
    kw: dict[str, Any] = {}
    for attr, args in _attributes(line, rest):
        if attr == "@id":
            kw["id"] = True
        elif attr == "@unique":
            kw["unique"] = True
        elif attr == "@updatedAt":
            kw["updated_at"] = True
        elif attr == "@default":
            kw["default"] = _default(line, args, ftype)
        elif attr == "@relation":
            kw["relation"] = _relation(line, args)
        else:
            raise line.error(f"the attribute {attr} is not supported")
    return Field(name, ftype, optional=bool(optional), is_list=bool(is_list), **kw)


def _block_attribute(line: _Line, model: Model) -> None:
    for attr, args in _attributes(line, line.text.strip()):
        if attr == "@@history" and not args:
            model.history = True
            continue
        if attr not in ("@@id", "@@unique", "@@index"):
            raise line.error(f"the block attribute {attr} is not supported")
        fields = None
        name = None
        for key, value in args:
            if key in (None, "fields"):
                fields = _names(line, value)
            elif key == "name" and attr != "@@index" and value[0] == "str":
                name = value[1]  # the where key of the compound (instead of a_b)
            else:
                raise line.error(f"{attr}({key}: ...) is not supported")
        if not fields:
            raise line.error(f"{attr} needs a list of fields")
        if name is not None:
            model.unique_names[fields] = name
        if attr == "@@id":
            model.id_fields = fields
        elif attr == "@@unique":
            model.uniques.append(fields)
        else:
            model.indexes.append(fields)


def parse_prisma(text: str) -> Schema:
    """The :class:`Schema` of a Prisma schema's text (see the module docstring)."""
    models: dict[str, Model] = {}
    enums: dict[str, tuple[str, ...]] = {}
    block: tuple[str, str] | None = None
    members: list[str] = []
    for number, raw in enumerate(text.splitlines(), 1):
        stripped = re.sub(r"//.*$", "", raw).strip()
        line = _Line(number, raw)
        if not stripped:
            continue
        if block is None:
            m = re.match(r"^(model|enum|datasource|generator)\s+([A-Za-z_]\w*)\s*\{$", stripped)
            if m is None:
                raise line.error("unsupported construct (expected a model, enum, datasource or "
                                 "generator block)")
            block = (m.group(1), m.group(2))
            if block[0] == "model":
                if block[1] in models or block[1] in enums:
                    raise line.error(f"{block[1]} is declared twice")
                models[block[1]] = Model(block[1], {})
            members = []
            continue
        if stripped == "}":
            if block[0] == "enum":
                enums[block[1]] = tuple(members)
            block = None
            continue
        kind, name = block
        if kind in ("datasource", "generator"):
            continue
        if kind == "enum":
            if not re.fullmatch(r"[A-Za-z_]\w*", stripped):
                raise line.error("an enum member must be a plain name (attributes are not supported)")
            members.append(stripped)
        elif stripped.startswith("@@"):
            _block_attribute(_Line(number, stripped), models[name])
        else:
            f = _field(_Line(number, stripped), stripped)
            if f.name in models[name].fields:
                raise line.error(f"field {f.name} is declared twice")
            models[name].fields[f.name] = f
    if block is not None:
        raise SchemaError(f"schema ends inside the {block[0]} {block[1]} block (missing `}}`)")
    return Schema(models, enums)
