"""The model client's errors, named as Prisma Client names them; each says model, field and value.

>>> try:
...     await client.user.create(data={"email": "a@x.org"})
... except UniqueViolationError as e:
...     print(e.model, e.field, e.value)   # User email a@x.org
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "FieldNotFoundError",
    "ForeignKeyViolationError",
    "InvalidValueError",
    "MissingRequiredValueError",
    "ModelError",
    "RecordNotFoundError",
    "SchemaError",
    "UniqueViolationError",
]


class ModelError(Exception):
    """Base of every model-client error: ``model``, ``field`` and ``value`` say where it happened."""

    def __init__(self, message: str, *, model: str | None = None, field: str | None = None,
                 value: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.model = model
        self.field = field
        self.value = value


class SchemaError(ModelError):
    """The schema cannot be read or used (a Prisma construct not supported, an unsafe change)."""


class UniqueViolationError(ModelError):
    """A create or update would give two records the same unique value."""


class RecordNotFoundError(ModelError):
    """``*_or_raise``, ``update``, ``delete`` or ``connect`` found no record for a unique where."""


class ForeignKeyViolationError(ModelError):
    """A relation points at a missing record, or a delete is restricted by records pointing at it."""


class MissingRequiredValueError(ModelError):
    """A required field has no value and no default."""


class FieldNotFoundError(ModelError):
    """An unknown model field, relation or operator."""


class InvalidValueError(ModelError):
    """A value of the wrong type for its field (or an argument of the wrong shape)."""
